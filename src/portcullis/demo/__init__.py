"""A sample upstream app and a one-command demo (``make demo``) of Portcullis in front of it."""
