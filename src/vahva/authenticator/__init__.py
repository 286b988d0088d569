"""The vahva app's server side: devices, the device API, push challenges and their fan-out."""
