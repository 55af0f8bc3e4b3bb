"""The network of regions: the hub's and regions' NATS configuration (``config``) and the link
keeper that copies what the other regions share into this region (``links``)."""
