"""Read models of the planning service, fed from contract events on the bus."""
