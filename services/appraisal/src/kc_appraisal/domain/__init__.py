"""The appraisal domain: the đề án and the dated rules it is judged by. Pure: no I/O, no clock."""
