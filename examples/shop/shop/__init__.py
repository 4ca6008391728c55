"""A small order-processing service that peeka's demo and tests record."""
