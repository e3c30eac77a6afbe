package api

import (
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/fleet"
)

// openAPI serves the document built at start.
func (h *Handler) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(h.openapi)
}

// The OpenAPI 3 description of the API, served at /v1/openapi.json. Each
// route is listed once below with its access rule and the Go types of its
// body and answer; the schemas are derived from those types (the same ones
// the handlers encode and decode), so a field cannot be added to a view
// without appearing here. A test keeps the route list equal to the router.

type obj = map[string]any

// apiRoute describes one route for the document.
type apiRoute struct {
	method, path string
	summary      string
	access       string // "none", "any", a role, "user", "cluster admin"
	body         any    // request body type (nil: none; rawBody: octet-stream)
	optionalBody bool
	status       int
	answer       any // answer type (nil: no body)
	query        []string
}

// rawBody stands for an application/octet-stream body or answer.
type rawBody struct{}

// textBody stands for a text answer (Prometheus exposition).
type textBody struct{}

// errorAnswer is the shape of every error.
type errorAnswer struct {
	Error struct {
		Code    string `json:"code" enum:"invalid,unauthorized,forbidden,not_found,conflict,too_large,rate_limited,unavailable,internal"`
		Message string `json:"message"`
	} `json:"error"`
}

var apiRoutes = []apiRoute{
	{method: "GET", path: "/healthz", summary: "Liveness: answers while the process runs", access: "none", status: 200, answer: statusAnswer{}},
	{method: "GET", path: "/readyz", summary: "Readiness: a leader is known and the cluster meta applied", access: "none", status: 200, answer: statusAnswer{}},
	{method: "GET", path: "/metrics", summary: "Prometheus metrics", access: "none", status: 200, answer: textBody{}},
	{method: "GET", path: "/v1/openapi.json", summary: "This document", access: "none", status: 200, answer: obj{}},
	{method: "GET", path: "/v1/play/{playback_id}.m3u8", summary: "Redirect (302) to the edge serving the stream or asset, query string kept; 409 when not live or not ready", access: "none", status: 302},
	{method: "GET", path: "/v1/play/{playback_id}/thumbnail.jpg", summary: "Redirect (302) to the poster image on that edge, query string (?time=, token) kept", access: "none", status: 302},
	{method: "GET", path: "/v1/play/{playback_id}/storyboard.jpg", summary: "Redirect (302) to the seek-preview sprite sheet on that edge, query string kept", access: "none", status: 302},
	{method: "GET", path: "/v1/play/{playback_id}/storyboard.vtt", summary: "Redirect (302) to the WebVTT cues into the sprite sheet on that edge, query string kept", access: "none", status: 302},

	{method: "POST", path: "/v1/auth/signup", summary: "Sign up: with the one-time setup_token the first owner and cluster admin; otherwise only when signup is enabled", access: "none (rate-limited)", body: signupRequest{}, status: 201, answer: signupAnswer{}},
	{method: "POST", path: "/v1/auth/login", summary: "Log in for a 15-minute session token", access: "none (rate-limited)", body: loginRequest{}, status: 200, answer: loginAnswer{}},
	{method: "GET", path: "/v1/me", summary: "Who the caller is, the org it acts in and its role", access: "any", status: 200, answer: meAnswer{}},

	{method: "GET", path: "/v1/orgs", summary: "The caller's orgs (a cluster admin: all)", access: "any", status: 200, answer: list[orgView]{}},
	{method: "POST", path: "/v1/orgs", summary: "Create an org owned by the caller", access: "user", body: createOrgRequest{}, status: 201, answer: orgView{}},
	{method: "GET", path: "/v1/orgs/{org}", summary: "One org", access: "viewer", status: 200, answer: orgView{}},
	{method: "DELETE", path: "/v1/orgs/{org}", summary: "Delete an org with everything it owns", access: "owner", status: 204},
	{method: "GET", path: "/v1/orgs/{org}/members", summary: "An org's members", access: "viewer", status: 200, answer: list[memberView]{}},
	{method: "PUT", path: "/v1/orgs/{org}/members/{user}", summary: "Add a member or change a role (owner to grant or change owner)", access: "admin", body: putMemberRequest{}, status: 200, answer: memberView{}},
	{method: "DELETE", path: "/v1/orgs/{org}/members/{user}", summary: "Remove a member; the last owner stays (409)", access: "admin", status: 204},

	{method: "POST", path: "/v1/users", summary: "Create a user, optionally a member of an org", access: "cluster admin", body: createUserRequest{}, status: 201, answer: userView{}},

	{method: "GET", path: "/v1/api-keys", summary: "The org's API keys", access: "admin", status: 200, answer: list[apiKeyView]{}},
	{method: "POST", path: "/v1/api-keys", summary: "Create an API key; the key is shown only in this answer and cannot outrank its creator", access: "admin", body: createAPIKeyRequest{}, status: 201, answer: createdAPIKey{}},
	{method: "DELETE", path: "/v1/api-keys/{id}", summary: "Revoke an API key", access: "admin", status: 204},

	{method: "GET", path: "/v1/streams", summary: "The org's streams", access: "viewer", status: 200, answer: list[streamView]{}},
	{method: "POST", path: "/v1/streams", summary: "Create a stream; the answer carries its key", access: "member", body: createStreamRequest{}, status: 201, answer: createdStream{}},
	{method: "GET", path: "/v1/streams/{id}", summary: "One stream", access: "viewer", status: 200, answer: streamView{}},
	{method: "PATCH", path: "/v1/streams/{id}", summary: "Change a stream's settings", access: "member", body: updateStreamRequest{}, status: 200, answer: streamView{}},
	{method: "DELETE", path: "/v1/streams/{id}", summary: "Delete a stream", access: "admin", status: 204},
	{method: "GET", path: "/v1/streams/{id}/key", summary: "The stream's key", access: "member", status: 200, answer: streamKeyView{}},
	{method: "POST", path: "/v1/streams/{id}/reset-key", summary: "Replace the stream's key; the old one stops working at once", access: "member", body: struct{}{}, optionalBody: true, status: 200, answer: streamKeyView{}},
	{method: "GET", path: "/v1/streams/{id}/sessions", summary: "The stream's sessions, newest first", access: "viewer", status: 200, answer: list[sessionView]{}},
	{method: "GET", path: "/v1/streams/{id}/ingest", summary: "Publish URLs on the edge nearest the caller (or ?ip=)", access: "viewer", status: 200, answer: ingestView{}, query: []string{"ip"}},

	{method: "GET", path: "/v1/assets", summary: "The org's assets, newest first, a page at a time", access: "viewer", status: 200, answer: page[assetView]{},
		query: []string{"status", "type", "stream_id", "limit", "cursor"}},
	{method: "GET", path: "/v1/assets/{id}", summary: "One asset", access: "viewer", status: 200, answer: assetView{}},
	{method: "PATCH", path: "/v1/assets/{id}", summary: "Change an asset's playback policy", access: "member", body: updateAssetRequest{}, status: 200, answer: assetView{}},
	{method: "DELETE", path: "/v1/assets/{id}", summary: "Delete an asset and its files; its unfinished jobs are cancelled", access: "member", status: 204},
	{method: "POST", path: "/v1/assets/{id}/clips", summary: "Cut a clip of a ready asset into a new asset; queues its clip job", access: "member", body: createClipRequest{}, status: 201, answer: clipAnswer{}},
	{method: "POST", path: "/v1/uploads", summary: "Create an upload asset and a URL to PUT the file to; its VOD job is queued once the file lands", access: "member", body: createUploadRequest{}, optionalBody: true, status: 201, answer: uploadAnswer{}},

	{method: "GET", path: "/v1/jobs", summary: "The org's media jobs, newest first, a page at a time", access: "viewer", status: 200, answer: page[jobView]{},
		query: []string{"state", "type", "asset_id", "limit", "cursor"}},
	{method: "GET", path: "/v1/jobs/{id}", summary: "One job with its attempts and progress", access: "viewer", status: 200, answer: jobView{}},
	{method: "DELETE", path: "/v1/jobs/{id}", summary: "Cancel a job (a running one stops at its edge's next renewal); 409 once it succeeded or failed", access: "member", status: 200, answer: jobView{}},

	{method: "GET", path: "/v1/signing-keys", summary: "The org's playback signing keys", access: "admin", status: 200, answer: list[signingKeyView]{}},
	{method: "POST", path: "/v1/signing-keys", summary: "Create a signing key; the private half is shown once and stored only with keep_private", access: "admin", body: createSigningKeyRequest{}, optionalBody: true, status: 201, answer: createdSigningKey{}},
	{method: "DELETE", path: "/v1/signing-keys/{id}", summary: "Revoke a signing key", access: "admin", status: 204},
	{method: "POST", path: "/v1/signing-keys/{id}/tokens", summary: "Mint a playback token; 409 when the private half was not kept", access: "member", body: mintTokenRequest{}, status: 200, answer: mintTokenAnswer{}},

	{method: "GET", path: "/v1/cluster", summary: "Raft status and the control-plane nodes", access: "cluster admin", status: 200, answer: clusterView{}},
	{method: "POST", path: "/v1/cluster/members", summary: "Add a control-plane node as a voter", access: "cluster admin", body: addMemberRequest{}, status: 200, answer: addMemberRequest{}},
	{method: "DELETE", path: "/v1/cluster/members/{id}", summary: "Remove a control-plane node", access: "cluster admin", status: 204},
	{method: "GET", path: "/v1/cluster/snapshot", summary: "The whole state as a snapshot file", access: "cluster admin", status: 200, answer: rawBody{}},
	{method: "POST", path: "/v1/cluster/restore", summary: "Replace the whole state with a snapshot file", access: "cluster admin", body: rawBody{}, status: 204},
	{method: "POST", path: "/v1/cluster/join-tokens", summary: "Create an edge join token", access: "cluster admin", body: joinTokenRequest{}, optionalBody: true, status: 201, answer: joinTokenAnswer{}},
	{method: "GET", path: "/v1/nodes", summary: "The edge fleet: state, region, load, streams", access: "cluster admin", status: 200, answer: nodesView{}},
	{method: "POST", path: "/v1/nodes/{id}/drain", summary: "Drain an edge: no new publishes or viewers; running sessions go on", access: "cluster admin", status: 204},
	{method: "DELETE", path: "/v1/nodes/{id}/drain", summary: "Lift an edge's drain order", access: "cluster admin", status: 204},
	{method: "GET", path: "/v1/route", summary: "How a viewer at ?ip= is routed for ?playback_id=, with every candidate's score", access: "cluster admin", status: 200, answer: fleet.Route{}, query: []string{"playback_id", "ip"}},
}

// required lists the fields a request body must have.
var required = map[reflect.Type][]string{
	reflect.TypeFor[signupRequest]():       {"email", "password"},
	reflect.TypeFor[loginRequest]():        {"email", "password"},
	reflect.TypeFor[createOrgRequest]():    {"name"},
	reflect.TypeFor[putMemberRequest]():    {"role"},
	reflect.TypeFor[createUserRequest]():   {"email", "password"},
	reflect.TypeFor[createAPIKeyRequest](): {"name"},
	reflect.TypeFor[createStreamRequest](): {"name"},
	reflect.TypeFor[mintTokenRequest]():    {"playback_id"},
	reflect.TypeFor[addMemberRequest]():    {"id", "raft_addr", "http_addr"},
	reflect.TypeFor[createClipRequest]():   {"start", "end"},
}

// enums name the allowed values of fields by their JSON name.
var enums = map[string][]string{
	"role":            {"owner", "admin", "member", "viewer"},
	"playback_policy": {"public", "signed"},
	"latency_mode":    {"standard", "low"},
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

func buildOpenAPI() obj {
	schemas := obj{}
	paths := obj{}
	for _, rt := range apiRoutes {
		op := obj{
			"operationId": operationID(rt.method, rt.path),
			"summary":     rt.summary,
			"description": "Access: " + rt.access + ".",
			"tags":        []string{tag(rt.path)},
			"responses":   responses(rt, schemas),
		}
		if strings.HasPrefix(rt.access, "none") {
			op["security"] = []obj{}
		}
		var params []obj
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			params = append(params, obj{"name": m[1], "in": "path", "required": true, "schema": obj{"type": "string"}})
		}
		for _, q := range rt.query {
			p := obj{"name": q, "in": "query", "required": false, "schema": obj{"type": "string"}}
			if q == "limit" {
				p["schema"] = obj{"type": "integer", "minimum": 1, "maximum": maxPageSize, "default": defaultPageSize}
			}
			params = append(params, p)
		}
		if rt.method == "GET" && !strings.HasPrefix(rt.access, "none") {
			params = append(params,
				obj{"name": "consistent", "in": "query", "required": false, "description": "1: a leader-confirmed read",
					"schema": obj{"type": "string", "enum": []string{"1", "true"}}},
				obj{"name": "X-Livestreams-Consistent", "in": "header", "required": false,
					"schema": obj{"type": "string", "enum": []string{"1", "true"}}})
		}
		if rt.access != "any" && !strings.HasPrefix(rt.access, "none") && rt.access != "cluster admin" && !strings.HasPrefix(rt.path, "/v1/orgs/{org}") {
			params = append(params, obj{"name": "X-Livestreams-Org", "in": "header", "required": false,
				"description": "the org a user's session token acts in (default: the user's first org)", "schema": obj{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		switch rt.body.(type) {
		case nil:
		case rawBody:
			op["requestBody"] = obj{"required": true, "content": obj{"application/octet-stream": obj{"schema": obj{"type": "string", "format": "binary"}}}}
		default:
			op["requestBody"] = obj{"required": !rt.optionalBody,
				"content": obj{"application/json": obj{"schema": schemaRef(reflect.TypeOf(rt.body), schemas, true)}}}
		}
		item, _ := paths[rt.path].(obj)
		if item == nil {
			item = obj{}
			paths[rt.path] = item
		}
		item[strings.ToLower(rt.method)] = op
	}
	schemaRef(reflect.TypeFor[errorAnswer](), schemas, false)
	return obj{
		"openapi": "3.0.3",
		"info": obj{
			"title":       "Livestreams control-plane API",
			"version":     "v1",
			"description": "Self-hostable live video. Errors are {\"error\":{\"code\",\"message\"}}; lists are {\"items\":[…]}; objects of other orgs are 404.",
		},
		"paths": paths,
		"components": obj{
			"schemas": schemas,
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer",
				"description": "a session token from /v1/auth/login, or an API key lsk_…"}},
		},
		"security": []obj{{"bearer": []string{}}},
	}
}

func responses(rt apiRoute, schemas obj) obj {
	out := obj{"default": obj{"description": "an error",
		"content": obj{"application/json": obj{"schema": obj{"$ref": "#/components/schemas/errorAnswer"}}}}}
	ok := obj{"description": http.StatusText(rt.status)}
	switch rt.answer.(type) {
	case nil:
	case rawBody:
		ok["content"] = obj{"application/octet-stream": obj{"schema": obj{"type": "string", "format": "binary"}}}
	case textBody:
		ok["content"] = obj{"text/plain": obj{"schema": obj{"type": "string"}}}
	case obj:
		ok["content"] = obj{"application/json": obj{"schema": obj{"type": "object"}}}
	default:
		ok["content"] = obj{"application/json": obj{"schema": schemaRef(reflect.TypeOf(rt.answer), schemas, false)}}
	}
	if rt.status == http.StatusFound {
		ok["headers"] = obj{"Location": obj{"schema": obj{"type": "string"}, "description": "the edge's playlist URL"}}
	}
	out[strconv.Itoa(rt.status)] = ok
	return out
}

func operationID(method, path string) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(method))
	for _, part := range strings.FieldsFunc(path, func(r rune) bool { return r == '/' || r == '-' || r == '.' || r == '_' }) {
		part = strings.Trim(part, "{}")
		if part == "v1" || part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}

func tag(path string) string {
	parts := strings.Split(strings.TrimPrefix(path, "/v1/"), "/")
	if !strings.HasPrefix(path, "/v1/") {
		return "health"
	}
	return strings.TrimSuffix(parts[0], ".json")
}

var timeType = reflect.TypeFor[time.Time]()

// schemaRef returns the schema of t, registering named struct types as
// components. Request types refuse unknown fields, as the decoder does.
func schemaRef(t reflect.Type, schemas obj, request bool) obj {
	nullable := false
	for t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	var s obj
	switch {
	case t == timeType:
		s = obj{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.String:
		s = obj{"type": "string"}
	case t.Kind() == reflect.Bool:
		s = obj{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		s = obj{"type": "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		s = obj{"type": "number"}
	case t.Kind() == reflect.Slice:
		s = obj{"type": "array", "items": schemaRef(t.Elem(), schemas, request)}
	case t.Kind() == reflect.Struct && t.Name() != "" && !strings.Contains(t.Name(), "["):
		name := t.Name()
		if _, done := schemas[name]; !done {
			schemas[name] = obj{} // break cycles
			schemas[name] = structSchema(t, schemas, request)
		}
		s = obj{"$ref": "#/components/schemas/" + name}
		if nullable {
			return obj{"allOf": []obj{s}, "nullable": true}
		}
		return s
	default: // anonymous structs and generic lists inline
		s = structSchema(t, schemas, request)
	}
	if nullable {
		s["nullable"] = true
	}
	return s
}

func structSchema(t reflect.Type, schemas obj, request bool) obj {
	props := obj{}
	collect(t, schemas, request, props)
	s := obj{"type": "object", "properties": props}
	if request {
		s["additionalProperties"] = false
	}
	// Answers always carry every field not marked omitempty; requests
	// need only the fields listed in required.
	var all []string
	for name, p := range props {
		if _, opt := p.(obj)["x-optional"]; opt {
			delete(p.(obj), "x-optional")
			continue
		}
		all = append(all, name)
	}
	sort.Strings(all)
	if request {
		all = required[t]
	}
	if len(all) > 0 {
		s["required"] = all
	}
	return s
}

func collect(t reflect.Type, schemas obj, request bool, props obj) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			collect(f.Type, schemas, request, props)
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		p := schemaRef(f.Type, schemas, request)
		if e := f.Tag.Get("enum"); e != "" {
			p["enum"] = strings.Split(e, ",")
		} else if vals := enums[name]; vals != nil {
			p["enum"] = vals
		}
		if strings.Contains(opts, "omitempty") {
			p["x-optional"] = true
		}
		props[name] = p
	}
}
