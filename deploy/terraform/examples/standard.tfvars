# terraform apply -var-file=examples/standard.tfvars
# The sensor with apidump's default limits; 5% of the task's CPU units and
# memory (at least 128 units / 128 MiB).
aws_region           = "us-west-2"
task_definition_name = "my-app"
image_name           = "123456789012.dkr.ecr.us-west-2.amazonaws.com/pcap-sensor:0.1.0"
satellite_url        = "http://levoai-satellite:9999"
levo_env             = "staging"
org_id               = "my-org-id"
aws_log_group        = "/ecs/my-app-pcap"
rate_limit           = 1000
extra_args           = ["--filter", "not port 8888"]
