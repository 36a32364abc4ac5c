"""Services: definitions, their store and operations (``operations``), and the service
containers with their live router changes (``containers``)."""
