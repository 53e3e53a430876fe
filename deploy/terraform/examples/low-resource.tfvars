# terraform apply -var-file=examples/low-resource.tfvars
# The strict-budget profile: limits that keep the sensor within 64 MiB, and a
# minimum of 128 CPU units / 64 MiB for the 2% shares below.
aws_region              = "us-west-2"
task_definition_name    = "my-app"
image_name              = "123456789012.dkr.ecr.us-west-2.amazonaws.com/pcap-sensor:0.1.0"
satellite_url           = "http://levoai-satellite:9999"
levo_env                = "production"
org_id                  = "my-org-id"
low_resource            = true
rate_limit              = 100
cpu_percentage_limit    = 2
memory_percentage_limit = 2
