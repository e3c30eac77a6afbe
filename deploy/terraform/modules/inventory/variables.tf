variable "control" {
  description = "Control-plane hosts by inventory name. The first name in sort order bootstraps the cluster, so use names that sort in creation order (cp-1, cp-2, ...)."
  type = map(object({
    public_ip  = string
    private_ip = optional(string)
  }))

  validation {
    condition     = length(var.control) > 0
    error_message = "At least one control-plane host is needed."
  }
}

variable "edges" {
  description = "Edge hosts by inventory name."
  type = map(object({
    public_ip  = string
    private_ip = optional(string)
    region     = string
    public_url = optional(string)
    lat        = optional(number)
    lon        = optional(number)
  }))
  default = {}
}

variable "ssh_user" {
  description = "User Ansible connects as."
  type        = string
  default     = "root"
}

variable "group_vars" {
  description = "Extra variables for every host, written under [livestreams:vars] (e.g. livestreams_s3_bucket). Null values are left out."
  type        = map(string)
  default     = {}
}
