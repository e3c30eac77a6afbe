package api

import (
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/livestreams/livestreams/controlplane/api/auth"
	"github.com/livestreams/livestreams/controlplane/state"
)

// openAPI serves the document built at start.
func (h *Handler) openAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(h.openapi)
}

// The OpenAPI 3 description of the API, served at /v1/openapi.json, made
// from the route table (routes.go) that the router is built from: each
// route with its access rule and the Go types of its body and answer. The
// schemas are derived from those types (the same ones the handlers encode
// and decode), so a field cannot be added to a view without appearing here.

type obj = map[string]any

// errorAnswer is the shape of every error.
type errorAnswer struct {
	Error struct {
		Code    string `json:"code" enum:"invalid,unauthorized,forbidden,not_found,conflict,too_large,rate_limited,unavailable,internal"`
		Message string `json:"message"`
	} `json:"error"`
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
var enums = map[string]any{
	"role":            state.Roles(),
	"playback_policy": state.PlaybackPolicies(),
	"latency_mode":    state.LatencyModes(),
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

func buildOpenAPI() obj {
	schemas := obj{}
	paths := obj{}
	for _, rt := range routeTable() {
		op := obj{
			"operationId": operationID(rt.method, rt.path),
			"summary":     rt.summary,
			"description": "Access: " + rt.access.rule + ".",
			"tags":        []string{tag(rt.path)},
			"responses":   responses(rt, schemas),
		}
		if !rt.access.authenticated {
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
		if rt.method == "GET" && rt.access.authenticated {
			params = append(params,
				obj{"name": "consistent", "in": "query", "required": false, "description": "1: a leader-confirmed read",
					"schema": obj{"type": "string", "enum": []string{"1", "true"}}},
				obj{"name": "X-Livestreams-Consistent", "in": "header", "required": false,
					"schema": obj{"type": "string", "enum": []string{"1", "true"}}})
		}
		if rt.access.role != "" && !rt.access.orgInPath {
			params = append(params, obj{"name": "X-Livestreams-Org", "in": "header", "required": false,
				"description": "the org a user's session token acts in (default: the user's first org)", "schema": obj{"type": "string"}})
		}
		if params != nil {
			op["parameters"] = params
		}
		switch b := rt.body.(type) {
		case nil:
		case rawBody:
			op["requestBody"] = obj{"required": true, "content": obj{"application/octet-stream": obj{"schema": obj{"type": "string", "format": "binary"}}}}
		case mediaBody:
			op["requestBody"] = obj{"required": true, "content": obj{b.Type: obj{"schema": obj{"type": "string"}}}}
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
				"description": "a session token from /v1/auth/login, or an API key " + auth.APIKeyPrefix + "…"}},
		},
		"security": []obj{{"bearer": []string{}}},
	}
}

func responses(rt route, schemas obj) obj {
	out := obj{"default": obj{"description": "an error",
		"content": obj{"application/json": obj{"schema": obj{"$ref": "#/components/schemas/errorAnswer"}}}}}
	ok := obj{"description": http.StatusText(rt.status)}
	switch a := rt.answer.(type) {
	case nil:
	case mediaBody:
		ok["content"] = obj{a.Type: obj{"schema": obj{"type": "string"}}}
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
	if _, media := rt.answer.(mediaBody); media && rt.status == http.StatusCreated {
		ok["headers"] = obj{"Location": obj{"schema": obj{"type": "string"}, "description": "the session's resource on this API"}}
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
	case t.Kind() == reflect.Map:
		s = obj{"type": "object", "additionalProperties": schemaRef(t.Elem(), schemas, request)}
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
