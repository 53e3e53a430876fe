terraform {
  # No provider: everything here is computed from the inputs, so the module can
  # be initialised and tested offline (`terraform init && terraform test`).
  required_version = ">= 1.5.0"
}
