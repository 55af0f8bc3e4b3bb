"""Reports service: the SMEs' feedback, the network's monthly figures, monitoring and cluster
reports."""
