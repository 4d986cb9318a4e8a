package platform

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/wskx/wskx/whisk"
)

// webReply is a web action's answer before it is written.
type webReply struct {
	status  int
	headers [][2]string // from a .http result, in order, without Content-Type
	ctype   string      // "": an empty entity
	body    []byte
	err     string // non-empty: answer {error, code} with status
}

func webFail(status int, msg string) webReply { return webReply{status: status, err: msg} }

// webRespond answers with an activation's response as completeRequest
// does: a success's result, or an application error's "error" field, goes
// through the extension's transcoder; any other failure is a 400.
func (p *Platform) webRespond(w http.ResponseWriter, r *http.Request, resp whisk.Response, ext string) {
	result := resp.Result
	var rep webReply
	switch resp.Code() {
	case 0:
	case 1:
		fields, _ := asObject(result)
		var ok bool
		if result, ok = fields["error"]; !ok {
			webError(w, r, http.StatusNotFound, msgPropertyNotFound)
			return
		}
	default:
		webError(w, r, http.StatusBadRequest, msgErrorProcessing)
		return
	}
	switch ext {
	case ".json":
		rep = resultAsJSON(result)
	case ".html":
		rep = resultAsMarkup(result, "html", "text/html; charset=UTF-8", "text/html")
	case ".svg":
		rep = resultAsMarkup(result, "svg", "image/svg+xml", "image/svg+xml")
	case ".text":
		rep = resultAsText(result)
	default:
		rep = resultAsHTTP(result)
	}
	if rep.err != "" {
		webError(w, r, rep.status, rep.err)
		return
	}
	h := w.Header()
	for _, kv := range rep.headers {
		h.Add(kv[0], kv[1])
	}
	if rep.ctype == "" {
		w.WriteHeader(rep.status)
		return
	}
	// akka-http's content negotiation: an entity the Accept header does
	// not take is refused with 406 and the type it would have been.
	if !acceptable(r.Header.Values("Accept"), rep.ctype) {
		for _, kv := range rep.headers {
			h.Del(kv[0])
		}
		h.Set("Content-Type", "text/plain; charset=UTF-8")
		w.WriteHeader(http.StatusNotAcceptable)
		_, _ = io.WriteString(w, "Resource representation is only available with these types:\n"+rep.ctype)
		return
	}
	h.Set("Content-Type", rep.ctype)
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
}

// webError is ErrorResponse.terminate as web actions print it: pretty.
func webError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	code := txid(r)
	if code == "" {
		code = newID()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(prettyJSON(mustJSON(struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}{msg, code})))
}

func resultAsJSON(result json.RawMessage) webReply {
	if t := bytes.TrimSpace(result); len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return webFail(http.StatusBadRequest, msgInvalidMedia("application/json"))
	}
	return webReply{status: http.StatusOK, ctype: "application/json", body: prettyJSON(result)}
}

// resultAsMarkup is resultAsHtml and resultAsSvg: field body, else field
// (html or svg), of an object, or the result itself, must be a string.
func resultAsMarkup(result json.RawMessage, field, ctype, media string) webReply {
	v := result
	if fields, ok := asObject(result); ok {
		v, ok = fields["body"]
		if !ok {
			v = fields[field]
		}
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return webFail(http.StatusBadRequest, msgInvalidMedia(media))
	}
	return webReply{status: http.StatusOK, ctype: ctype, body: []byte(s)}
}

// resultAsText prints any JSON value: field body, else field text, of an
// object, or the result itself.
func resultAsText(result json.RawMessage) webReply {
	v := result
	if fields, ok := asObject(result); ok {
		if v, ok = fields["body"]; !ok {
			if v, ok = fields["text"]; !ok {
				return webFail(http.StatusNotFound, msgPropertyNotFound)
			}
		}
	}
	out := prettyJSON(v)
	var s string
	if t := bytes.TrimSpace(v); len(t) > 0 && t[0] == '"' && json.Unmarshal(t, &s) == nil {
		out = []byte(s)
	}
	return webReply{status: http.StatusOK, ctype: "text/plain; charset=UTF-8", body: out}
}

// resultAsHTTP is the .http convention: {headers, statusCode, body}. A
// string body is text/html unless the headers say otherwise, base64 for a
// binary type; any other body is JSON; no body (or "") is an empty entity,
// 204 unless statusCode says otherwise.
func resultAsHTTP(result json.RawMessage) webReply {
	bad := webFail(http.StatusBadRequest, msgInvalidMedia("message/http"))
	fields, ok := asObject(result)
	if !ok {
		return bad
	}
	var headers [][2]string
	ctype, hasType := "", false
	if raw, ok := fields["headers"]; ok {
		hs, ok := orderedObject(raw)
		if !ok {
			return bad
		}
		for _, kv := range hs {
			vals, ok := headerValues(kv.value)
			if !ok {
				return bad
			}
			for _, v := range vals {
				switch strings.ToLower(kv.key) {
				case "content-type":
					if !hasType {
						ctype, hasType = v, true
					}
				case "content-length", "transfer-encoding":
				default:
					headers = append(headers, [2]string{kv.key, v})
				}
			}
		}
	}
	status := 0
	if raw, ok := fields["statusCode"]; ok {
		if status, ok = statusCodeOf(raw); !ok {
			return bad
		}
	}
	orDefault := func(def int) int {
		if status == 0 {
			return def
		}
		return status
	}
	body, hasBody := fields["body"]
	var str string
	isString := hasBody && json.Unmarshal(body, &str) == nil
	switch {
	case !hasBody || bytes.Equal(bytes.TrimSpace(body), []byte("null")) || (isString && str == ""):
		// An empty entity drops the content type the headers give.
		return webReply{status: orDefault(http.StatusNoContent), headers: headers}
	case isString:
		if !hasType {
			ctype = "text/html"
		}
		rep := httpString(str, ctype)
		if rep.err != "" {
			return rep
		}
		rep.status, rep.headers = orDefault(http.StatusOK), headers
		return rep
	default:
		if !hasType {
			ctype = "application/json"
		}
		mt := parseMediaType(ctype)
		if !mt.ok || !mt.jsonFamily() {
			return webFail(http.StatusBadRequest, msgHTTPContentTypeError)
		}
		return webReply{status: orDefault(http.StatusOK), headers: headers, ctype: mt.name, body: prettyJSON(body)}
	}
}

// httpString is interpretHttpResponse: a text type takes the string as
// it is (JSON types also take base64 text, decoded, for actions written
// before that changed); a binary type takes base64.
func httpString(s, ctype string) webReply {
	mt := parseMediaType(ctype)
	if !mt.ok {
		return webFail(http.StatusBadRequest, msgHTTPUnknownContentType)
	}
	if !mt.binary() {
		body := []byte(s)
		if mt.jsonFamily() && isBinaryCode(s) {
			if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s)); err == nil {
				body = b
			}
		}
		return webReply{ctype: mt.withCharset(), body: body}
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return webFail(http.StatusBadRequest, msgHTTPContentTypeError)
	}
	return webReply{ctype: strings.TrimSpace(ctype), body: b}
}

// statusCodeOf reads statusCode: a whole number, or a string of one.
// Codes below 200 are refused: Go's server takes them for interim answers.
func statusCodeOf(raw json.RawMessage) (int, bool) {
	var n json.Number
	var s string
	code := 0
	switch {
	case json.Unmarshal(raw, &s) == nil:
		c, err := strconv.Atoi(s)
		if err != nil {
			return 0, false
		}
		code = c
	case json.Unmarshal(raw, &n) == nil:
		f, ok := new(big.Float).SetString(n.String())
		if !ok || !f.IsInt() {
			return 0, false
		}
		i, acc := f.Int64()
		if acc != big.Exact {
			return 0, false
		}
		code = int(i)
	default:
		return 0, false
	}
	return code, code >= 200 && code <= 999
}

// headerValues is headersFromJson: strings, booleans and numbers as
// written, arrays of them as several headers.
func headerValues(raw json.RawMessage) ([]string, bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return nil, false
	}
	switch t[0] {
	case '"':
		var s string
		if json.Unmarshal(t, &s) != nil {
			return nil, false
		}
		return []string{s}, true
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(t, &items) != nil {
			return nil, false
		}
		var out []string
		for _, it := range items {
			vs, ok := headerValues(it)
			if !ok {
				return nil, false
			}
			out = append(out, vs...)
		}
		return out, true
	case '{', 'n':
		return nil, false
	}
	return []string{string(t)}, true // a number or boolean
}

// mediaType is a Content-Type as akka-http classifies it.
type mediaType struct {
	ok     bool
	name   string // type/subtype, lower case
	params map[string]string
}

func parseMediaType(s string) mediaType {
	name, params, err := mime.ParseMediaType(s)
	// Go takes a disposition ("inline") too; a media type has a subtype.
	if err != nil || !strings.Contains(name, "/") {
		return mediaType{}
	}
	return mediaType{ok: true, name: name, params: params}
}

// jsonFamily is WhiskWebActionsApi.isJsonFamily.
func (m mediaType) jsonFamily() bool {
	return m.name == "application/json" || strings.HasSuffix(m.name, "+json")
}

// textTypes are akka-http's registered non-text media types that carry
// text; fixedCharset ones are always UTF-8 and say no charset.
var (
	textTypes = map[string]bool{
		"application/javascript": true, "application/xml": true, "application/xhtml+xml": true,
		"application/rss+xml": true, "application/atom+xml": true, "application/soap+xml": true,
		"application/x-www-form-urlencoded": true,
	}
	fixedCharset = map[string]bool{
		"application/json": true, "application/json-patch+json": true, "application/merge-patch+json": true,
		"application/problem+json": true, "application/vnd.api+json": true, "text/event-stream": true,
	}
)

// binary follows akka-http's MediaTypes: text/*, the registered text
// types, and any type given a charset are text; an unregistered type
// without a charset is binary.
func (m mediaType) binary() bool {
	if strings.HasPrefix(m.name, "text/") || textTypes[m.name] || fixedCharset[m.name] {
		return false
	}
	_, charset := m.params["charset"]
	return !charset
}

// withCharset is ContentType(mediaType, () => UTF-8) as it is rendered.
func (m mediaType) withCharset() string {
	out := mime.FormatMediaType(m.name, m.params)
	if _, ok := m.params["charset"]; ok || fixedCharset[m.name] {
		return out
	}
	return out + "; charset=UTF-8"
}

// acceptable says whether Accept headers take content type ctype; no
// Accept header takes anything.
func acceptable(accepts []string, ctype string) bool {
	if len(accepts) == 0 {
		return true
	}
	want := parseMediaType(ctype).name
	main, _, _ := strings.Cut(want, "/")
	for _, h := range accepts {
		for _, rng := range strings.Split(h, ",") {
			name, params, err := mime.ParseMediaType(strings.TrimSpace(rng))
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err == nil && f == 0 {
					continue
				}
			}
			if name == "*/*" || name == want || name == main+"/*" {
				return true
			}
		}
	}
	return false
}

// member is one field of a JSON object, in the order written.
type member struct {
	key   string
	value json.RawMessage
}

// orderedObject decodes a JSON object keeping its fields' order.
func orderedObject(raw json.RawMessage) ([]member, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		out = append(out, member{key, v})
	}
	return out, true
}

// prettyJSON prints a JSON value as spray-json's PrettyPrinter does, which
// OpenWhisk's web responses use: objects one field a line indented by two
// spaces, arrays on one line, fields in the order written.
func prettyJSON(raw json.RawMessage) []byte {
	var buf bytes.Buffer
	if !prettyValue(&buf, raw, 0) {
		return raw
	}
	return buf.Bytes()
}

func prettyValue(buf *bytes.Buffer, raw json.RawMessage, indent int) bool {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return false
	}
	switch t[0] {
	case '{':
		fields, ok := orderedObject(t)
		if !ok {
			return false
		}
		if len(fields) == 0 {
			buf.WriteString("{}")
			return true
		}
		buf.WriteString("{\n")
		for i, f := range fields {
			if i > 0 {
				buf.WriteString(",\n")
			}
			buf.WriteString(strings.Repeat(" ", indent+2))
			buf.Write(jsonString(f.key))
			buf.WriteString(": ")
			if !prettyValue(buf, f.value, indent+2) {
				return false
			}
		}
		buf.WriteString("\n" + strings.Repeat(" ", indent) + "}")
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(t, &items) != nil {
			return false
		}
		buf.WriteByte('[')
		for i, it := range items {
			if i > 0 {
				buf.WriteString(", ")
			}
			if !prettyValue(buf, it, indent) {
				return false
			}
		}
		buf.WriteByte(']')
	case '"':
		var s string
		if json.Unmarshal(t, &s) != nil {
			return false
		}
		buf.Write(jsonString(s))
	default:
		buf.Write(t)
	}
	return true
}

// jsonString quotes s without Go's HTML escapes.
func jsonString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return bytes.TrimRight(buf.Bytes(), "\n")
}
