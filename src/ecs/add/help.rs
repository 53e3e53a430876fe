//! The text of `pcap-sensor ecs add --help`.

pub const HELP: &str = "\
pcap-sensor ecs add: add the sensor to an ECS task definition and move its services to it

usage: pcap-sensor ecs add [FLAGS] [-- APIDUMP FLAGS...]

Reads the latest revision of a task family, registers a new revision with every
setting kept and the sensor container appended, and updates the services that run
the family to it. On a terminal, what the flags leave open is asked, and the plan
is shown before anything changes. Without a terminal, every value below marked *
must be given.

AWS:
      --profile NAME          profile of ~/.aws/credentials and ~/.aws/config
                              (default: the keys in AWS_ACCESS_KEY_ID and
                              AWS_SECRET_ACCESS_KEY, else profile AWS_PROFILE,
                              else 'default')
  *   --region REGION         (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's)
      --endpoint-url URL      send the API calls here instead (private endpoints,
                              tests); also AWS_ENDPOINT_URL[_ECS|_EC2]

what to change:
  *   --cluster NAME|ARN      the ECS cluster
  *   --task-family NAME      the task definition family (NAME:REVISION to start
                              from that revision instead of the latest)
  *   --service NAME          a service of the cluster that runs the family
                              (repeatable; on a terminal: chosen from a list)

the sensor container (see 'pcap-sensor ecs container-definition --help'):
  *   --image REF             the sensor's image, e.g. an ECR repository:tag
  *   --satellite-url URL     where traces go, http(s)://host:port
  *   --levo-env ENV          deployment environment, e.g. staging
  *   --levoai-org-id ID      organisation id
  *   --rate-limit N          traces per minute (0 = no limit)
      --log-group NAME        CloudWatch log group (default /ecs/FAMILY-pcap)
      --cpu UNITS, --memory MIB, --low-resource
                              size (default 256 units and 128 MiB; --low-resource:
                              128 and 64, with flags that fit)
      --spool [--spool-mb N]  keep batches the satellite cannot take on disk: adds
                              the task volume pcap-sensor-spool (task-scoped storage,
                              on Fargate the task's ephemeral storage), mounted at
                              /var/spool/pcap-sensor, and sets --spool-dir (N MiB,
                              default 256)

behaviour:
  *   --yes, -y               go ahead without asking (needed without a terminal)
      --dry-run               print the new task definition (JSON, on stdout) and
                              the plan; change nothing
      --force                 add the sensor even where it cannot see the traffic
                              (bridge or none network mode)
      --wait                  follow the services' rollout until it completes or fails
      --wait-timeout SECS     give up waiting after SECS (default 900)
      --poll-interval SECS    time between rollout checks (default 10)
  -h, --help                  this text

Everything after -- is appended to the sensor's apidump flags, e.g.
  -- --filter 'not port 8888'

IAM permissions used: ec2:DescribeRegions, ecs:ListClusters, ecs:DescribeClusters,
ecs:ListTaskDefinitionFamilies, ecs:DescribeTaskDefinition, ecs:RegisterTaskDefinition,
ecs:ListServices, ecs:DescribeServices, ecs:UpdateService, ecs:TagResource
and iam:PassRole for the task's roles: 'pcap-sensor ecs iam-policy' prints a policy
that grants just these.
";
