#!/bin/bash
# Publishes what agents need to verify the server in the SSM parameter LOCUS_CA_PARAMETER: the
# deployment CA's certificate (self-signed mode), or a note that the certificate is publicly
# trusted (Let's Encrypt). `aws ssm get-parameter` fetches it (docs/aws.md).
set -euo pipefail
. /etc/locus/deploy.env
if [ -s /etc/locus/tls/ca.pem ]; then
  # file://: the CLI reads the PEM itself (a value starting with "-----" would read as an option).
  value=file:///etc/locus/tls/ca.pem
else
  value="publicly trusted (Let's Encrypt): agents need no CA file"
fi
aws ssm put-parameter --region "$LOCUS_REGION" --name "$LOCUS_CA_PARAMETER" --type String \
  --overwrite --value "$value" >/dev/null
echo "locus: CA published in $LOCUS_CA_PARAMETER"
