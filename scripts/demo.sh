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

# The newest rollout of a key as "id state", from Temporal visibility (which catches up within moments).
newest_rollout() {
  CFG_TOKEN=$OPERATOR npx cfgctl --json rollout list --key "$1" --page-size 1 | node -e '
    const r = JSON.parse(require("fs").readFileSync(0, "utf8")).items[0];
    console.log(r ? `${r.rolloutId} ${r.state}` : "- -");'
}
# Waits for a rollout of KEY other than the one with id SKIP to end; fails loudly rather than hang.
wait_for_rollout_end() {
  local key=$1 skip=$2 id state
  for _ in $(seq 1 120); do
    read -r id state <<<"$(newest_rollout "$key")"
    if [ "$id" != "$skip" ] && [[ "$state" =~ ^(SUCCEEDED|ROLLED_BACK|FAILED)$ ]]; then return 0; fi
    sleep 1
  done
  echo "no new rollout of $key ended within 2 minutes; see .local/logs/" >&2
  return 1
}
# Waits for a rollout to reach a state; fails loudly rather than hang.
wait_for_state() {
  for _ in $(seq 1 60); do
    CFG_TOKEN=$OPERATOR npx cfgctl --json rollout status "$1" | grep -q "\"state\": \"$2\"" && return 0
    sleep 1
  done
  echo "rollout $1 did not reach $2 within a minute" >&2
  return 1
}

step "Installing what is missing (reuses .tools/ when present)"
bash scripts/setup.sh
# Everything below runs under Node 24, installed by setup when the machine's node is older.
. scripts/project-node.sh
use_project_node

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
wait_for_state "$ID" AWAITING_APPROVAL
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

step "A JSON Schema for acme's payment preferences: a value that breaks it is refused before anything is written"
CFG_TOKEN=$RM show npx cfgctl schema set tenant_config_paymentPreferences --file examples/schemas/paymentPreferences.schema.json
CFG_TOKEN=$RM show npx cfgctl rollout start tenant_config_paymentPreferences --value '{"provider":"strype","currency":"usd"}' \
  "${TARGETS[@]}" || echo "(exit code $?: refused, naming each rule the value breaks)"
CFG_TOKEN=$OPERATOR show npx cfgctl config history tenant_config_paymentPreferences

step "An out-of-band edit with the AWS CLI: the local EventBridge stand-in delivers it twice, one rollout runs"
ENDPOINT=param_config_apiEndpoint
BEFORE=$(CFG_TOKEN=$OPERATOR npx cfgctl --json config get "$ENDPOINT" --service orders | grep -o '"version": [0-9]*' | grep -o '[0-9]*')
PREVIOUS=$(newest_rollout "$ENDPOINT" | cut -d' ' -f1)
show "$AWS" --endpoint-url "$AWS_ENDPOINT_URL_SSM" ssm put-parameter --name "/config-service/acme/orders/$ENDPOINT" \
  --value "https://orders.acme.example/v$((BEFORE + 1))" --type String --overwrite
echo "waiting for the rollout it starts to finish..."
wait_for_rollout_end "$ENDPOINT" "$PREVIOUS"
npx tsx scripts/demo-fleet.ts "$ENDPOINT" orders
echo "-- what the stand-in handed to the Lambda handler (each event twice):"
grep -E '"message":"delivered"' .local/logs/local-eventbridge.log | tail -2 | sed -E 's/.*"copy":([0-9]).*"outcome":"([a-z-]+)".*/   copy \1: \2/'
CFG_TOKEN=$OPERATOR show npx cfgctl rollout list --key "$ENDPOINT"

step "An out-of-band delete: the instances forget the key through a staged removal"
PREVIOUS=$(newest_rollout "$ENDPOINT" | cut -d' ' -f1)
show "$AWS" --endpoint-url "$AWS_ENDPOINT_URL_SSM" ssm delete-parameter --name "/config-service/acme/orders/$ENDPOINT"
echo "waiting for the removal to finish..."
wait_for_rollout_end "$ENDPOINT" "$PREVIOUS"
npx tsx scripts/demo-fleet.ts "$ENDPOINT" orders
CFG_TOKEN=$OPERATOR show npx cfgctl rollout list --key "$ENDPOINT"

step "What operators see in Temporal"
show .tools/venv/bin/temporal workflow list --address "$TEMPORAL_ADDRESS" --query "TenantId=\"acme\" AND ConfigKey=\"$KEY\""
CFG_TOKEN=$OPERATOR show npx cfgctl rollout list --key "$KEY"

step "What operators see in Prometheus, and rollout 1 as one trace from the API call to each instance"
PROMETHEUS="http://127.0.0.1:${PROMETHEUS_PORT:-9090}"
show .tools/bin/promtool query instant "$PROMETHEUS" 'sum by (service, code) (cfg_pushes_total)'
show .tools/bin/promtool query instant "$PROMETHEUS" 'sum by (gate, outcome) (cfg_rollout_gates_total)'
show .tools/bin/promtool query instant "$PROMETHEUS" 'sum by (state) (cfg_rollouts_finished_total)'
show npx tsx scripts/show-trace.ts "$ID" | sed -n '1,30p'

step "Running"
cat <<INFO
  REST API        $CFG_API_URL            (try: CFG_TOKEN=\$(npx cfgctl dev-token --tenant acme --role operator) npx cfgctl config list)
  gRPC            $GRPC
  Temporal UI     http://127.0.0.1:${TEMPORAL_UI_PORT:-8233}   (the rollouts' histories)
  Web console     $CFG_API_URL/console/   (sign in with your organisation: the local hosted-UI stand-in)
  Prometheus      $PROMETHEUS/classic/targets   (every process; alerts at /classic/alerts)
  Traces          npx tsx scripts/show-trace.ts <rollout id>   (Jaeger's query API: http://127.0.0.1:${JAEGER_UI_PORT:-16686}/api/traces)
  Rollouts        CFG_TOKEN=\$(npx cfgctl dev-token --tenant acme --role release-manager) npx cfgctl rollout list
  Instance logs   .local/logs/orders-*.log, .local/logs/billing-*.log
  Status          npm run stack -- status
  Stop all        npm run stack -- down
INFO
