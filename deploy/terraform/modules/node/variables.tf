# One Livestreams VPS. The interface (name, role, location, size, network,
# outputs with public and private addresses) is what any provider's node
# module offers; this implementation is Hetzner Cloud's.

variable "name" {
  description = "Server name, also its hostname and Ansible inventory name (RFC 1123 label)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.name))
    error_message = "name must be a valid hostname label: lower-case letters, digits and '-', at most 63 characters."
  }
}

variable "role" {
  description = "Livestreams role of the node: control or edge. Becomes the livestreams-role label the firewalls select on."
  type        = string

  validation {
    condition     = contains(["control", "edge"], var.role)
    error_message = "role must be \"control\" or \"edge\"."
  }
}

variable "location" {
  description = "Location to create the server in, e.g. fsn1, nbg1, hel1, ash, hil, sin."
  type        = string
}

variable "server_type" {
  description = "Server type (size), e.g. cpx22. Check what the location offers with `hcloud server-type list`."
  type        = string
}

variable "image" {
  description = "OS image. The Ansible roles support Debian 12 and Ubuntu 22.04/24.04."
  type        = string
  default     = "debian-12"
}

variable "ssh_keys" {
  description = "SSH key names or IDs put into root's authorized_keys at creation."
  type        = list(string)

  validation {
    condition     = length(var.ssh_keys) > 0
    error_message = "At least one SSH key is needed: Ansible connects over SSH."
  }
}

variable "labels" {
  description = "Extra labels; livestreams-role is added."
  type        = map(string)
  default     = {}
}

variable "private_network" {
  description = "Attach the server to subnet_id. A separate, plan-time-known switch: the subnet id itself is only known after apply."
  type        = bool
  default     = false
}

variable "subnet_id" {
  description = "Private subnet to attach the server to when private_network is true (the address is assigned automatically)."
  type        = string
  default     = null
}

variable "placement_group_id" {
  description = "Spread placement group (separate physical hosts); null for none."
  type        = number
  default     = null
}

variable "user_data" {
  description = "cloud-init user data used at creation; later changes are ignored (they would rebuild the server)."
  type        = string
  default     = null
}

variable "backups" {
  description = "Enable the provider's daily backups of the whole disk."
  type        = bool
  default     = false
}

variable "protected" {
  description = "Enable delete and rebuild protection (a protected server cannot be destroyed until this is turned off)."
  type        = bool
  default     = false
}
