// Where the hub stores: PostgreSQL with PostGIS on the instance (the default: no extra cost), or
// Amazon RDS for PostgreSQL (the rds setting), reachable only from the instance's security group.
// Either way a generated secret holds the credentials; the instance reads it by ARN.

import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as rds from "aws-cdk-lib/aws-rds";
import * as secrets from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";

export interface DatabaseProps {
  vpc: ec2.IVpc;
  rds: boolean;
  instanceSecurityGroup: ec2.ISecurityGroup;
}

export class Database extends Construct {
  /** Local: the password of the role locus. RDS: RDS's JSON (username, password, host, port, dbname). */
  readonly secret: secrets.ISecret;

  constructor(scope: Construct, id: string, props: DatabaseProps) {
    super(scope, id);
    const nag = (construct: Construct, rule: string, reason: string) =>
      Validations.of(construct).acknowledge({ id: rule, reason });

    if (!props.rds) {
      const secret = new secrets.Secret(this, "Password", {
        description: "Locus: password of the PostgreSQL role locus on the instance",
        generateSecretString: { passwordLength: 40, excludePunctuation: true },
        removalPolicy: RemovalPolicy.DESTROY,
      });
      nag(
        secret,
        "AwsSolutions-SMG4",
        "The database listens on the instance's loopback only; rotation would need the hub restarted with it (docs/aws.md, manual rotation)",
      );
      this.secret = secret;
      return;
    }

    const sg = new ec2.SecurityGroup(this, "SecurityGroup", {
      vpc: props.vpc,
      description: "Locus database: PostgreSQL from the Locus instance only",
      allowAllOutbound: false,
    });
    sg.addIngressRule(props.instanceSecurityGroup, ec2.Port.tcp(5432), "The Locus hub");
    const db = new rds.DatabaseInstance(this, "Instance", {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_17 }),
      instanceType: ec2.InstanceType.of(
        ec2.InstanceClass.BURSTABLE4_GRAVITON,
        ec2.InstanceSize.MICRO,
      ),
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [sg],
      credentials: rds.Credentials.fromGeneratedSecret("locus", {
        excludeCharacters: "\"@/\\ '%:?#&+=",
      }),
      databaseName: "locus",
      allocatedStorage: 20,
      storageEncrypted: true,
      publiclyAccessible: false,
      multiAz: false,
      backupRetention: Duration.days(7),
      deletionProtection: false,
      cloudwatchLogsExports: ["postgresql"],
      // A final snapshot when the stack is destroyed: the fleet's history outlives the stack.
      removalPolicy: RemovalPolicy.SNAPSHOT,
    });
    if (!db.secret) throw new Error("RDS made no credentials secret");
    this.secret = db.secret;
    nag(
      // The generated secret itself (db.secret is its attachment to the database).
      db.node.findChild("Secret"),
      "AwsSolutions-SMG4",
      "Rotation would change the password under the running hub, which reads it at start; docs/aws.md gives the manual rotation",
    );
    nag(
      db,
      "AwsSolutions-RDS3",
      "One Availability Zone to keep the cost of the optional database low; daily automated backups kept 7 days",
    );
    nag(
      db,
      "AwsSolutions-RDS10",
      "Deletion protection would make deploy:destroy fail; a final snapshot is kept instead (removal policy SNAPSHOT)",
    );
    nag(
      db,
      "AwsSolutions-RDS11",
      "The default port is reachable from the Locus instance's security group only, in isolated subnets",
    );
    nag(
      db,
      "AwsSolutions-RDS6",
      "The hub authenticates with a password from Secrets Manager; IAM tokens would need renewing inside the hub every 15 minutes",
    );
  }
}
