"""Router configuration rendering and the management client."""
