"""The supervisor and volunteer web dashboard under /dashboard/ (see views.init_app)."""
