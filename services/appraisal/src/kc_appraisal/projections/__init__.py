"""Read models of the appraisal service."""
