"""Training: sandbox organisations, where new staff practise the real work on synthetic cases.

A sandbox is an organisation marked so for its whole life (a database trigger keeps the mark).
Its mail goes to a built-in mailbox instead of SMTP, it can have no partners or peers, the survivor
portal never offers it, and ``haven sandbox reset`` brings it back to a fresh state."""
