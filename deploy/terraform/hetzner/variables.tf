# --- Access ---------------------------------------------------------------------

variable "hcloud_token" {
  description = "Hetzner Cloud API token (read/write). Leave null and export HCLOUD_TOKEN instead to keep it out of files."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.hcloud_token == null || length(coalesce(var.hcloud_token, "x")) == 64
    error_message = "hcloud_token must be a 64-character Hetzner Cloud API token (or null to use HCLOUD_TOKEN)."
  }
}

variable "ssh_public_keys" {
  description = "SSH public keys to upload, by name. Ansible connects as root with one of them."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in values(var.ssh_public_keys) : can(regex("^(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh.com) ", k))])
    error_message = "Each ssh_public_keys value must be an OpenSSH public key line (ssh-ed25519 AAAA..., ssh-rsa AAAA..., ...)."
  }
}

variable "ssh_key_names" {
  description = "Names of SSH keys already in the Hetzner Cloud project, used in addition to ssh_public_keys."
  type        = list(string)
  default     = []
}

variable "ssh_allowed_cidrs" {
  description = "Source networks allowed to reach SSH (22/tcp). Narrow it to your office or bastion when you can."
  type        = list(string)
  default     = ["0.0.0.0/0", "::/0"]

  validation {
    condition     = length(var.ssh_allowed_cidrs) > 0 && alltrue([for c in var.ssh_allowed_cidrs : can(cidrhost(c, 0))])
    error_message = "ssh_allowed_cidrs must be a non-empty list of CIDRs (e.g. 198.51.100.7/32); otherwise Ansible cannot connect."
  }
}

# --- Fleet ----------------------------------------------------------------------

variable "name_prefix" {
  description = "Prefix of every resource name and the livestreams-cluster label; lets several fleets share a project."
  type        = string
  default     = "ls"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.name_prefix))
    error_message = "name_prefix: 1-20 characters, lower-case letters, digits and '-', starting with a letter."
  }
}

variable "image" {
  description = "OS image of every node. The Ansible roles support debian-12, ubuntu-22.04 and ubuntu-24.04."
  type        = string
  default     = "debian-12"

  validation {
    condition     = contains(["debian-12", "ubuntu-22.04", "ubuntu-24.04"], var.image)
    error_message = "image must be debian-12, ubuntu-22.04 or ubuntu-24.04 (what the Ansible roles support)."
  }
}

variable "control_count" {
  description = "Number of control-plane nodes: 3 (survives one failure) or 5 (survives two)."
  type        = number
  default     = 3

  validation {
    condition     = contains([3, 5], var.control_count)
    error_message = "control_count must be 3 or 5: Raft needs an odd number of voters."
  }
}

variable "control_locations" {
  description = "Locations the control-plane nodes are spread over, round-robin. All must be in network_zone (Raft runs over the private network)."
  type        = list(string)
  default     = ["fsn1", "nbg1", "hel1"]

  validation {
    condition     = length(var.control_locations) > 0
    error_message = "control_locations needs at least one location."
  }
}

variable "control_server_type" {
  description = "Server type of the control-plane nodes (2 vCPU / 4 GB is plenty for thousands of streams)."
  type        = string
  default     = "cpx22"
}

variable "edge_locations" {
  description = "How many edges to run in each location, e.g. { fsn1 = 2, hel1 = 1, ash = 1 }. Raising a count or adding a location never replaces existing edges."
  type        = map(number)
  default = {
    fsn1 = 1
    hel1 = 1
    ash  = 1
  }

  validation {
    condition     = alltrue([for n in values(var.edge_locations) : n >= 0 && n <= 50 && floor(n) == n])
    error_message = "Each edge count must be a whole number from 0 to 50."
  }
}

variable "edge_server_type" {
  description = "Server type of the edges. Transcoding is CPU-bound: about one 720p/480p/360p ladder per 2 dedicated vCPUs."
  type        = string
  default     = "cpx32"
}

variable "edge_server_types" {
  description = "Per-location override of edge_server_type, e.g. { sin = \"cpx31\" } where a type is not offered."
  type        = map(string)
  default     = {}
}

variable "locations" {
  description = "Known locations: region label edges report, coordinates used for routing, and network zone. Extend it when the provider opens a location."
  type = map(object({
    region       = string
    lat          = number
    lon          = number
    network_zone = string
  }))
  default = {
    fsn1 = { region = "eu-central", lat = 50.47, lon = 12.37, network_zone = "eu-central" }
    nbg1 = { region = "eu-central", lat = 49.45, lon = 11.08, network_zone = "eu-central" }
    hel1 = { region = "eu-north", lat = 60.17, lon = 24.94, network_zone = "eu-central" }
    ash  = { region = "us-east", lat = 39.04, lon = -77.49, network_zone = "us-east" }
    hil  = { region = "us-west", lat = 45.54, lon = -122.94, network_zone = "us-west" }
    sin  = { region = "ap-southeast", lat = 1.35, lon = 103.82, network_zone = "ap-southeast" }
  }
}

variable "backups" {
  description = "Enable Hetzner's daily disk backups on the control-plane nodes (+20% of their price). Edges hold nothing that is not in S3 or the control plane."
  type        = bool
  default     = true
}

variable "protect_control_plane" {
  description = "Delete/rebuild protection on the control-plane nodes. Turn off (and apply) before `terraform destroy`."
  type        = bool
  default     = false
}

# --- Network --------------------------------------------------------------------

variable "network_zone" {
  description = "Network zone of the private network. Nodes in this zone's locations join it; others talk over public addresses."
  type        = string
  default     = "eu-central"

  validation {
    condition     = contains(["eu-central", "us-east", "us-west", "ap-southeast"], var.network_zone)
    error_message = "network_zone must be one of eu-central, us-east, us-west, ap-southeast."
  }
}

variable "private_network_cidr" {
  description = "Address range of the private network."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrhost(var.private_network_cidr, 0)) && !strcontains(var.private_network_cidr, ":")
    error_message = "private_network_cidr must be an IPv4 CIDR, e.g. 10.42.0.0/16."
  }
}

variable "private_subnet_cidr" {
  description = "Subnet of private_network_cidr the nodes get their private addresses from."
  type        = string
  default     = "10.42.1.0/24"

  validation {
    condition     = can(cidrhost(var.private_subnet_cidr, 0)) && !strcontains(var.private_subnet_cidr, ":")
    error_message = "private_subnet_cidr must be an IPv4 CIDR inside private_network_cidr, e.g. 10.42.1.0/24."
  }
}

variable "tls_enabled" {
  description = "Open 443/tcp and 80/tcp (ACME) for a TLS-terminating reverse proxy in front of the API and the edges; also makes edge URLs https:// when DNS is managed."
  type        = bool
  default     = false
}

variable "edge_rtmps_enabled" {
  description = "Open 1936/tcp on the edges for RTMPS ingest, and set livestreams_edge_rtmps_enabled in the inventory (each edge needs a certificate for its name: deploy/ansible/roles/edge)."
  type        = bool
  default     = false
}

variable "edge_srt_enabled" {
  description = "Open 9000/udp on the edges for SRT ingest, and set livestreams_edge_srt_enabled in the inventory (needs a binary built with cgo and libsrt: deploy/README.md)."
  type        = bool
  default     = false
}

# --- DNS (optional) ---------------------------------------------------------------

variable "dns_zone" {
  description = "Existing DNS zone in the Hetzner Console (e.g. example.com) to create records in; null to manage DNS elsewhere (see the dns_records output)."
  type        = string
  default     = null

  validation {
    condition     = var.dns_zone == null || can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", coalesce(var.dns_zone, "x")))
    error_message = "dns_zone must be a domain name such as example.com, or null."
  }
}

variable "dns_subdomain" {
  description = "Records go under this label of dns_zone: api.<subdomain>.<zone> for the control plane, <edge-name>.<subdomain>.<zone> per edge. Empty puts them at the zone apex level."
  type        = string
  default     = "live"

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?)?$", var.dns_subdomain))
    error_message = "dns_subdomain must be one DNS label (letters, digits, '-') or empty."
  }
}

variable "dns_ttl" {
  description = "TTL of the records, in seconds. Keep it short: edges come and go."
  type        = number
  default     = 300

  validation {
    condition     = var.dns_ttl >= 60 && var.dns_ttl <= 86400
    error_message = "dns_ttl must be between 60 and 86400 seconds."
  }
}

# --- Object storage -------------------------------------------------------------

variable "object_storage" {
  description = <<-EOT
    External S3-compatible bucket for recordings and VOD (Hetzner Object Storage,
    R2, B2, MinIO, AWS...). Not created here: create it with your provider's
    console or any S3 tool, and put the access keys in the Ansible vault. null
    leaves edges on their local storage.
  EOT
  type = object({
    endpoint = string
    bucket   = string
    region   = optional(string, "")
  })
  default = null

  validation {
    condition     = var.object_storage == null || can(regex("^https?://", var.object_storage.endpoint))
    error_message = "object_storage.endpoint must be a URL such as https://fsn1.your-objectstorage.com."
  }

  validation {
    condition     = var.object_storage == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.object_storage.bucket))
    error_message = "object_storage.bucket must be a valid S3 bucket name (3-63 characters, lower case)."
  }
}
