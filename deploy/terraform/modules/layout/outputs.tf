output "control" {
  description = "Control-plane nodes by name: index, location, region, lat, lon, network_zone, private (whether it joins the private network)."
  value       = local.control
}

output "edges" {
  description = "Edge nodes by name, same fields as control."
  value       = local.edges
}
