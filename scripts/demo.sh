#!/usr/bin/env bash
# The demo a newcomer runs first (npm run demo): installs what is missing, brings up the local stack
# and the config service, seeds two tenants, shows each tenant reading only its own config over gRPC
# and REST, then starts six example instances and runs two staged rollouts: one that succeeds and one
# whose canary turns unhealthy and is rolled back. Leaves everything running; `npm run stack -- down`
# stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# Prints a command (tokens shortened) on stderr, so $(show …) captures only the command's output, then runs it.
show() { printf '\033[2m$ %s\033[0m\n' "$(sed -E 's/Bearer ([A-Za-z0-9_-]{12})[A-Za-z0-9._-]+/Bearer \1…/g' <<<"$*")" >&2; "$@"; }

step "Installing what is missing (reuses .tools/ when present)"
bash scripts/setup.sh

step "Starting the local stack and the config service"
npx tsx scripts/stack.ts up
eval "$(npx tsx scripts/stack.ts env)"
GRPCURL=.tools/bin/grpcurl
AWS=.tools/venv/bin/aws
GRPC=127.0.0.1:${GRPC_PORT:-50051}
export CFG_API_URL="http://127.0.0.1:${HTTP_PORT:-8080}"

step "Seeding two tenants, acme and globex, in DynamoDB and Parameter Store"
npx tsx scripts/seed-demo.ts

ACME=$(npx cfgctl dev-token --tenant acme --role service --subject orders-service)
GLOBEX=$(npx cfgctl dev-token --tenant globex --role operator --subject globex-operator)

step "gRPC: the ConfigService, found through server reflection"
show "$GRPCURL" -plaintext "$GRPC" list

step "gRPC: acme reads its Parameter Store endpoint"
show "$GRPCURL" -plaintext -H "authorization: Bearer $ACME" \
  -d '{"key":"param_config_apiEndpoint","service":"orders"}' "$GRPC" configsvc.v1.ConfigService/GetConfig

step "REST (cfgctl): each tenant lists its own configuration"
echo "-- acme"
CFG_TOKEN=$ACME show npx cfgctl config list
echo "-- globex"
CFG_TOKEN=$GLOBEX show npx cfgctl config list

step "Isolation: globex asks for acme's payment preferences (a key only acme has)"
CFG_TOKEN=$GLOBEX show npx cfgctl config get tenant_config_paymentPreferences || echo "(exit code $?: not found, as for a key nobody has)"
show "$GRPCURL" -plaintext -H "authorization: Bearer $GLOBEX" \
  -d '{"key":"tenant_config_paymentPreferences"}' "$GRPC" configsvc.v1.ConfigService/GetConfig || true

step "Isolation: naming a tenant in the request is refused, never used"
show curl -s -H "authorization: Bearer $GLOBEX" "$CFG_API_URL/v1/configs/tenant_config_featureFlags?tenantId=acme"
echo

step "What the stores hold"
show "$AWS" --endpoint-url "$AWS_ENDPOINT_URL_SSM" ssm get-parameter \
  --name /config-service/acme/orders/param_config_apiEndpoint:live --query Parameter.[Name,Value,Version] --output text
show "$AWS" --endpoint-url "$AWS_ENDPOINT_URL_DYNAMODB" dynamodb get-item --table-name tenant-config \
  --key '{"PK":{"S":"TENANT#acme"},"SK":{"S":"CONFIG#tenant_config_featureFlags"}}' --output json

step "Six example instances (orders and billing: a silo per tenant and a pooled one each)"
npx tsx scripts/stack.ts up --examples

RM=$(npx cfgctl dev-token --tenant acme --role release-manager --subject alice@acme)
APPROVER=$(npx cfgctl dev-token --tenant acme --role release-manager --subject bob@acme)
OPERATOR=$(npx cfgctl dev-token --tenant acme --role operator --subject olivia@acme)
KEY=tenant_config_featureFlags
TARGETS=(--target orders --target billing)

step "The fleet serving acme (asked the way the control plane asks)"
npx tsx scripts/demo-fleet.ts

step "Rollout 1, with cfgctl: canary, 50%, 100%, 3 s bake per wave, approval after the canary"
ID=$(CFG_TOKEN=$RM show npx cfgctl rollout start "$KEY" --value '{"newCheckout":true,"darkMode":true}' \
  "${TARGETS[@]}" --waves 1,50%,100% --bake 3 --approval after-first-wave)
echo "rollout id: $ID"
until CFG_TOKEN=$OPERATOR npx cfgctl --json rollout status "$ID" | grep -q '"state": "AWAITING_APPROVAL"'; do sleep 1; done
CFG_TOKEN=$OPERATOR show npx cfgctl rollout status "$ID"
echo "-- an operator may watch but not approve:"
CFG_TOKEN=$OPERATOR show npx cfgctl rollout approve "$ID" || echo "(exit code $?: forbidden)"
CFG_TOKEN=$APPROVER show npx cfgctl rollout approve "$ID" --reason "canary healthy"
CFG_TOKEN=$OPERATOR show npx cfgctl rollout status "$ID" --watch
npx tsx scripts/demo-fleet.ts
CFG_TOKEN=$OPERATOR show npx cfgctl rollout history "$ID"

step "Rollout 2: a broken value; the canary reports NOT_SERVING, the rollout rolls back by itself"
CFG_TOKEN=$RM show npx cfgctl rollout start "$KEY" --value '{"newCheckout":"yes","darkMode":true}' \
  "${TARGETS[@]}" --waves 1,50%,100% --bake 3 --watch || echo "(exit code $?: rolled back)"
npx tsx scripts/demo-fleet.ts
CFG_TOKEN=$OPERATOR show npx cfgctl config history "$KEY"

step "An out-of-band edit with the AWS CLI: the local EventBridge stand-in delivers it twice, one rollout runs"
ENDPOINT=param_config_apiEndpoint
BEFORE=$(CFG_TOKEN=$OPERATOR npx cfgctl --json config get "$ENDPOINT" --service orders | grep -o '"version": [0-9]*' | grep -o '[0-9]*')
show "$AWS" --endpoint-url "$AWS_ENDPOINT_URL_SSM" ssm put-parameter --name "/config-service/acme/orders/$ENDPOINT" \
  --value "https://orders.acme.example/v$((BEFORE + 1))" --type String --overwrite
echo "waiting for the rollout to make it live..."
for _ in $(seq 1 60); do
  NOW=$(CFG_TOKEN=$OPERATOR npx cfgctl --json config get "$ENDPOINT" --service orders | grep -o '"version": [0-9]*' | grep -o '[0-9]*')
  [ "$NOW" -gt "$BEFORE" ] && break
  sleep 2
done
npx tsx scripts/demo-fleet.ts "$ENDPOINT" orders
echo "-- what the stand-in handed to the Lambda handler (each event twice):"
grep -E '"message":"delivered"' .local/logs/local-eventbridge.log | tail -2 | sed -E 's/.*"copy":([0-9]).*"outcome":"([a-z-]+)".*/   copy \1: \2/'
CFG_TOKEN=$OPERATOR show npx cfgctl rollout list --key "$ENDPOINT"

step "An out-of-band delete: the instances forget the key through a staged removal"
show "$AWS" --endpoint-url "$AWS_ENDPOINT_URL_SSM" ssm delete-parameter --name "/config-service/acme/orders/$ENDPOINT"
echo "waiting for the removal to reach the instances..."
for _ in $(seq 1 60); do
  FLEET=$(npx tsx scripts/demo-fleet.ts "$ENDPOINT" orders)
  [[ "$FLEET" != *"$ENDPOINT v"[1-9]* ]] && break
  sleep 2
done
echo "$FLEET"
CFG_TOKEN=$OPERATOR show npx cfgctl rollout list --key "$ENDPOINT"

step "What operators see in Temporal"
show .tools/venv/bin/temporal workflow list --address "$TEMPORAL_ADDRESS" --query "TenantId=\"acme\" AND ConfigKey=\"$KEY\""
CFG_TOKEN=$OPERATOR show npx cfgctl rollout list --key "$KEY"

step "Running"
cat <<INFO
  REST API        $CFG_API_URL            (try: CFG_TOKEN=\$(npx cfgctl dev-token --tenant acme --role operator) npx cfgctl config list)
  gRPC            $GRPC
  Temporal UI     http://127.0.0.1:${TEMPORAL_UI_PORT:-8233}   (the rollouts' histories)
  Rollouts        CFG_TOKEN=\$(npx cfgctl dev-token --tenant acme --role release-manager) npx cfgctl rollout list
  Instance logs   .local/logs/orders-*.log, .local/logs/billing-*.log
  Status          npm run stack -- status
  Stop all        npm run stack -- down
INFO
