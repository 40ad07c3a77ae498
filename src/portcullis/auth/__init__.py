"""Sign-in: the gate that checks sessions on every request, and the sign-in endpoints."""
