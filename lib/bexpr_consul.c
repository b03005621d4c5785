/*
 * Consul's filterable item types, as go-bexpr sees its Go structs: the
 * selectors and operator sets of the "Filtering" tables in Consul's API
 * docs (catalog, health, agent).  Field names are the Go names; "json" is
 * given where muster's JSON spells the key differently (ServiceAddress
 * emits lower-case "address"/"port" on catalog endpoints).
 */
#include "lib/bexpr.h"

#define F(name, type) { name, NULL, type }
#define END { NULL, NULL, NULL }

static const struct bexpr_field weights_f[] = {
	F("Passing", &bexpr_t_int), F("Warning", &bexpr_t_int), END,
};
static const struct bexpr_type weights_t = { BEXPR_T_STRUCT, NULL,
	weights_f };

static const struct bexpr_field svcaddr_f[] = {
	{ "Address", "address", &bexpr_t_string },
	{ "Port", "port", &bexpr_t_int },
	END,
};
static const struct bexpr_type svcaddr_t = { BEXPR_T_STRUCT, NULL,
	svcaddr_f };
static const struct bexpr_type svcaddr_map_t = { BEXPR_T_MAP, &svcaddr_t,
	NULL };

static const struct bexpr_field connect_f[] = {
	F("Native", &bexpr_t_bool), END,
};
static const struct bexpr_type connect_t = { BEXPR_T_STRUCT, NULL,
	connect_f };

static const struct bexpr_field meshgw_f[] = {
	F("Mode", &bexpr_t_string), END,
};
static const struct bexpr_type meshgw_t = { BEXPR_T_STRUCT, NULL, meshgw_f };

static const struct bexpr_field tproxy_f[] = {
	F("OutboundListenerPort", &bexpr_t_int), END,
};
static const struct bexpr_type tproxy_t = { BEXPR_T_STRUCT, NULL, tproxy_f };

static const struct bexpr_field upstream_f[] = {
	F("Datacenter", &bexpr_t_string),
	F("DestinationName", &bexpr_t_string),
	F("DestinationNamespace", &bexpr_t_string),
	F("DestinationType", &bexpr_t_string),
	F("LocalBindAddress", &bexpr_t_string),
	F("LocalBindPort", &bexpr_t_int),
	F("MeshGateway", &meshgw_t),
	END,
};
static const struct bexpr_type upstream_t = { BEXPR_T_STRUCT, NULL,
	upstream_f };
static const struct bexpr_type upstreams_t = { BEXPR_T_LIST, &upstream_t,
	NULL };

static const struct bexpr_field proxy_f[] = {
	F("DestinationServiceID", &bexpr_t_string),
	F("DestinationServiceName", &bexpr_t_string),
	F("LocalServiceAddress", &bexpr_t_string),
	F("LocalServicePort", &bexpr_t_int),
	F("Mode", &bexpr_t_string),
	F("TransparentProxy", &tproxy_t),
	F("MeshGateway", &meshgw_t),
	F("Upstreams", &upstreams_t),
	END,
};
static const struct bexpr_type proxy_t = { BEXPR_T_STRUCT, NULL, proxy_f };

static const struct bexpr_field node_f[] = {
	F("ID", &bexpr_t_string),
	F("Node", &bexpr_t_string),
	F("Address", &bexpr_t_string),
	F("Datacenter", &bexpr_t_string),
	F("TaggedAddresses", &bexpr_t_string_map),
	F("Meta", &bexpr_t_string_map),
	END,
};
const struct bexpr_type bexpr_consul_node = { BEXPR_T_STRUCT, NULL, node_f };

static const struct bexpr_field service_node_f[] = {
	F("ID", &bexpr_t_string),
	F("Node", &bexpr_t_string),
	F("Address", &bexpr_t_string),
	F("Datacenter", &bexpr_t_string),
	F("TaggedAddresses", &bexpr_t_string_map),
	F("NodeMeta", &bexpr_t_string_map),
	F("ServiceKind", &bexpr_t_string),
	F("ServiceID", &bexpr_t_string),
	F("ServiceName", &bexpr_t_string),
	F("ServiceTags", &bexpr_t_string_list),
	F("ServiceAddress", &bexpr_t_string),
	F("ServiceTaggedAddresses", &svcaddr_map_t),
	F("ServiceWeights", &weights_t),
	F("ServiceMeta", &bexpr_t_string_map),
	F("ServicePort", &bexpr_t_int),
	F("ServiceEnableTagOverride", &bexpr_t_bool),
	F("ServiceProxy", &proxy_t),
	F("ServiceConnect", &connect_t),
	END,
};
const struct bexpr_type bexpr_consul_service_node = { BEXPR_T_STRUCT, NULL,
	service_node_f };

/* structs.NodeService and api.AgentService expose the same selectors. */
static const struct bexpr_field node_service_f[] = {
	F("Kind", &bexpr_t_string),
	F("ID", &bexpr_t_string),
	F("Service", &bexpr_t_string),
	F("Tags", &bexpr_t_string_list),
	F("Address", &bexpr_t_string),
	F("TaggedAddresses", &svcaddr_map_t),
	F("Meta", &bexpr_t_string_map),
	F("Port", &bexpr_t_int),
	F("Weights", &weights_t),
	F("EnableTagOverride", &bexpr_t_bool),
	F("Proxy", &proxy_t),
	F("Connect", &connect_t),
	END,
};
const struct bexpr_type bexpr_consul_node_service = { BEXPR_T_STRUCT, NULL,
	node_service_f };
const struct bexpr_type bexpr_consul_agent_service = { BEXPR_T_STRUCT, NULL,
	node_service_f };

static const struct bexpr_field health_check_f[] = {
	F("Node", &bexpr_t_string),
	F("CheckID", &bexpr_t_string),
	F("Name", &bexpr_t_string),
	F("Status", &bexpr_t_string),
	F("Notes", &bexpr_t_string),
	F("Output", &bexpr_t_string),
	F("ServiceID", &bexpr_t_string),
	F("ServiceName", &bexpr_t_string),
	F("ServiceTags", &bexpr_t_string_list),
	F("Type", &bexpr_t_string),
	END,
};
const struct bexpr_type bexpr_consul_health_check = { BEXPR_T_STRUCT, NULL,
	health_check_f };
static const struct bexpr_type health_checks_t = { BEXPR_T_LIST,
	&bexpr_consul_health_check, NULL };

static const struct bexpr_field check_service_node_f[] = {
	F("Node", &bexpr_consul_node),
	F("Service", &bexpr_consul_node_service),
	F("Checks", &health_checks_t),
	END,
};
const struct bexpr_type bexpr_consul_check_service_node = { BEXPR_T_STRUCT,
	NULL, check_service_node_f };
