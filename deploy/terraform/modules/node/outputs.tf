output "id" {
  description = "Provider id of the server."
  value       = hcloud_server.this.id
}

output "name" {
  description = "Server name (= hostname = inventory name)."
  value       = hcloud_server.this.name
}

output "role" {
  description = "control or edge."
  value       = var.role
}

output "location" {
  description = "Location the server runs in."
  value       = hcloud_server.this.location
}

output "public_ipv4" {
  description = "Public IPv4 address."
  value       = hcloud_server.this.ipv4_address
}

output "public_ipv6" {
  description = "First public IPv6 address."
  value       = hcloud_server.this.ipv6_address
}

output "public_ipv6_network" {
  description = "Public IPv6 network (/64) of the server."
  value       = hcloud_server.this.ipv6_network
}

output "private_ip" {
  description = "Address in the private network, or null."
  value       = one(hcloud_server_network.this[*].ip)
}
