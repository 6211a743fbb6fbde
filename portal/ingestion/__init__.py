"""How statuses reach the portal: registration of messages, provider callbacks, provider
look-ups, all through one log of status events and one way of applying them."""
