output "ini" {
  description = "The Ansible inventory (INI) with groups control and edge, ready for deploy/ansible."
  value       = local.ini
}
