# This directory is run as a root module (terraform init / plan / apply here),
# so it configures the provider itself; credentials come from the usual places
# (~/.aws/credentials, AWS_PROFILE, environment variables, an instance role).
provider "aws" {
  region = var.aws_region
}
