package program

import "github.com/wskx/wskx/policies"

// The derived combinators, rewritten into core ones as composer.js's
// lowerer does. Where the lowerer closes over a JavaScript variable, the
// program keeps it in a let frame under a "$" name and a builtin reads or
// writes it; the masks are the lowerer's, so the user's parts see the
// user's variables and never these.

// The derived combinators' variables.
const (
	varParams = "$params" // the value saved across a test or a body
	varCount  = "$count"  // repeat's and retry's countdown
)

// saved is let({params: null}, finally(args => { params = args }, inner)):
// the value on entry is kept in $params while inner runs.
func saved(path string, inner code) code {
	return letCode(path, map[string]any{varParams: nil},
		finallyCode(path, builtinCode(path, "save", varParams), inner))
}

// restored is finally(() => params, body): body starts from the saved value.
func restored(path string, body code) code {
	return finallyCode(path, builtinCode(path, "load", varParams), body)
}

func (l *lowerer) ifNode(n *policies.Node) (code, error) {
	c, err := l.nodes(n.Path, n.Test, n.Then, n.Else)
	if err != nil {
		return nil, err
	}
	if n.Nosave {
		return ifNosaveCode(n.Path, c[0], c[1], c[2]), nil
	}
	p := n.Path
	return saved(p, ifNosaveCode(p,
		maskCode(p, c[0]),
		restored(p, maskCode(p, c[1])),
		restored(p, maskCode(p, c[2])))), nil
}

// loopBody is finally(() => params, seq(mask(body), args => { params = args })):
// each turn starts from the last turn's result, and saves its own.
func loopBody(path string, body code) code {
	return restored(path, seqCode(path, maskCode(path, body), builtinCode(path, "save", varParams)))
}

func whileCode(path string, test, body code) code {
	return saved(path, seqCode(path,
		whileNosaveCode(path, maskCode(path, test), loopBody(path, body)),
		builtinCode(path, "load", varParams)))
}

func dowhileCode(path string, body, test code) code {
	return saved(path, seqCode(path,
		dowhileNosaveCode(path, loopBody(path, body), maskCode(path, test)),
		builtinCode(path, "load", varParams)))
}

func (l *lowerer) while(n *policies.Node) (code, error) {
	c, err := l.nodes(n.Path, n.Test, n.Body)
	if err != nil {
		return nil, err
	}
	if n.Nosave {
		return whileNosaveCode(n.Path, c[0], c[1]), nil
	}
	return whileCode(n.Path, c[0], c[1]), nil
}

func (l *lowerer) dowhile(n *policies.Node) (code, error) {
	c, err := l.nodes(n.Path, n.Body, n.Test)
	if err != nil {
		return nil, err
	}
	if n.Nosave {
		return dowhileNosaveCode(n.Path, c[0], c[1]), nil
	}
	return dowhileCode(n.Path, c[0], c[1]), nil
}

// repeat is let({count}, while(() => count-- > 0, mask(body))).
func (l *lowerer) repeat(n *policies.Node) (code, error) {
	body, err := l.node(n.Body, n.Path)
	if err != nil {
		return nil, err
	}
	p := n.Path
	return letCode(p, map[string]any{varCount: float64(n.Times)},
		whileCode(p, builtinCode(p, "countdown", varCount), maskCode(p, body))), nil
}

// retry is
//
//	let({count}, params => ({params}),
//	    dowhile(finally(({params}) => params, mask(retain_catch(body))),
//	            ({result}) => result.error !== undefined && count-- > 0),
//	    ({result}) => result)
//
// so every attempt starts from the same input, and the last attempt's
// result, error or not, is retry's.
func (l *lowerer) retry(n *policies.Node) (code, error) {
	body, err := l.node(n.Body, n.Path)
	if err != nil {
		return nil, err
	}
	p := n.Path
	attempt := finallyCode(p, builtinCode(p, "take_params", ""), maskCode(p, retainCatchCode(p, body)))
	return letCode(p, map[string]any{varCount: float64(n.Times)},
		builtinCode(p, "box_params", ""),
		dowhileCode(p, attempt, builtinCode(p, "retry_test", varCount)),
		builtinCode(p, "take_result", "")), nil
}

// retainCode is let({params}, finally(args => { params = args },
// seq(mask(body), result => ({params, result})))). An error in body is
// not caught: the finally's frame is gone by then.
func retainCode(path string, body code) code {
	return saved(path, seqCode(path, maskCode(path, body), builtinCode(path, "retain", varParams)))
}

// retainCatchCode is seq(retain(finally(seq(body), result => ({result}))),
// ({params, result}) => ({params, result: result.result})): the finally
// turns an error into an ordinary {result: {error}}.
func retainCatchCode(path string, body code) code {
	return seqCode(path,
		retainCode(path, finallyCode(path, seqCode(path, body), builtinCode(path, "wrap_result", ""))),
		builtinCode(path, "unwrap", ""))
}

func (l *lowerer) retain(n *policies.Node) (code, error) {
	body, err := l.node(n.Body, n.Path)
	if err != nil {
		return nil, err
	}
	return retainCode(n.Path, body), nil
}

func (l *lowerer) retainCatch(n *policies.Node) (code, error) {
	body, err := l.node(n.Body, n.Path)
	if err != nil {
		return nil, err
	}
	return retainCatchCode(n.Path, body), nil
}

// merge is seq(retain(body), ({params, result}) => Object.assign(params, result)).
func (l *lowerer) merge(n *policies.Node) (code, error) {
	body, err := l.node(n.Body, n.Path)
	if err != nil {
		return nil, err
	}
	return seqCode(n.Path, retainCode(n.Path, body), builtinCode(n.Path, "merge", "")), nil
}
