"""The backward engine: reverse-mode automatic differentiation over the recorded graph.

``loss.backward()`` computes dL/dθ for every leaf θ that requires grad, by the chain
rule applied node by node from the loss back to the leaves:

1. Walk the graph from the roots once (iteratively, so a chain of 100,000 ops is fine)
   and count, for every node, how many recorded consumers will send it a gradient.
2. Start from dL/dL = 1 at the roots.  Take a node whose consumers have all sent
   their gradients, add them up, call its ``backward`` to get the gradients of its
   inputs, and send each one on to the node that made that input (or accumulate it
   into ``.grad`` when the input is a leaf).
3. Free each node's saved arrays right after its backward, unless ``retain_graph``.
"""
from __future__ import annotations

from .function import Node, Function, _tensor_api_backward
from .grad_mode import state

__all__ = ["run_backward"]

_FREED_MSG = (
    "Trying to backward through the graph a second time (or to use values that backward "
    "already freed). The arrays an op saves for backward are freed by the first "
    ".backward() or autograd.grad(); pass retain_graph=True to the first call if you need "
    "to go backward through the same graph again.")


def _check_versions(node):
    for counter, version in node.saved_versions:
        if counter[0] != version:
            raise RuntimeError(
                f"one of the tensors needed for gradient computation has been modified by an "
                f"in-place operation: {node.op_name()} saved a tensor at version {version}, "
                f"which is now at version {counter[0]}. Avoid the in-place op (use x = x + y "
                f"instead of x += y, or clone() the tensor before changing it).")


def run_backward(roots, root_grads, retain_graph=False, capture=None):
    """Propagate ``root_grads`` (arrays) from ``roots`` (tensors) back through the graph.

    Without ``capture``, gradients of leaves are accumulated into ``leaf.grad``.
    With ``capture`` (a dict: id(tensor) -> None for the tensors of ``autograd.grad``),
    gradients reaching those tensors are stored in the dict instead and no ``.grad``
    is touched.
    """
    from ..tensor import Tensor
    wrap = Tensor._wrap

    # Where to catch captured non-leaf tensors: (node, output index) -> id(tensor)
    capture_at = {}
    grads = {}      # node -> list of gradients of its outputs, summed as they arrive
    handed = set()  # ids of arrays already stored as some leaf's .grad in this pass
    leaves_done = []

    def deliver(target, idx, g):
        """Send gradient ``g`` to output ``idx`` of ``target`` (a Node or a leaf Tensor)."""
        if isinstance(target, Node):
            buf = grads.get(target)
            if buf is None:
                buf = grads[target] = [None] * target.n_outputs
            prev = buf[idx]
            buf[idx] = g if prev is None else prev + g
            return
        # a leaf tensor
        if capture is not None:
            key = id(target)
            if key in capture:
                prev = capture[key][1]
                capture[key] = (target, g if prev is None else prev + g)
            return
        if target._hooks:
            for hook in list(target._hooks.values()):
                r = hook(wrap(g))
                if r is not None:
                    g = r._data
        if target.grad is None:
            if id(g) in handed or g.base is not None:
                g = g.copy()
            handed.add(id(g))
            target.grad = wrap(g)
        else:
            target.grad._data = target.grad._data + g

    # -- 1. count dependencies --------------------------------------------------------
    deps = {}
    stack = []
    for t in roots:
        if t.grad_fn is not None and t.grad_fn not in deps:
            deps[t.grad_fn] = 0
            stack.append(t.grad_fn)
    while stack:
        node = stack.pop()
        if node.freed:
            raise RuntimeError(_FREED_MSG)
        for link in node.next:
            if link is not None:
                target = link[0]
                if isinstance(target, Node):
                    n = deps.get(target)
                    if n is None:
                        deps[target] = 1
                        stack.append(target)
                    else:
                        deps[target] = n + 1

    if capture is not None:
        for key, (t, _) in list(capture.items()):
            if t.grad_fn is not None:
                capture_at[(t.grad_fn, t._out_idx)] = key

    # -- 2. seed the roots ------------------------------------------------------------
    for t, g in zip(roots, root_grads):
        handed.add(id(g))
        if t.grad_fn is None:
            deliver(t, 0, g)
        else:
            deliver(t.grad_fn, t._out_idx, g)

    ready = [n for n in deps if deps[n] == 0]
    debug = state.debug
    # -- 3. run the nodes in an order where all consumers come first -------------------
    while ready:
        node = ready.pop()
        gs = grads.pop(node, None)
        if gs is None:
            # no gradient reached this node: nothing to compute, but its inputs'
            # nodes must still learn that this consumer is done.
            for link in node.next:
                if link is not None and isinstance(link[0], Node):
                    left = deps[link[0]] - 1
                    deps[link[0]] = left
                    if left == 0:
                        ready.append(link[0])
            continue
        if node.out_hooks:
            for idx, hooks in node.out_hooks.items():
                if gs[idx] is not None:
                    for hook in list(hooks.values()):
                        r = hook(wrap(gs[idx]))
                        if r is not None:
                            gs[idx] = r._data
        if capture_at:
            for i, g in enumerate(gs):
                key = capture_at.get((node, i))
                if key is not None and g is not None:
                    t, prev = capture[key]
                    capture[key] = (t, g if prev is None else prev + g)
        if node.saved_versions:
            _check_versions(node)
        if node.n_outputs == 1:
            g_in = gs[0]
            if type(node)._tensor_api:
                in_grads = _tensor_api_backward(node, gs)
            else:
                in_grads = node.backward(g_in)
        else:
            if any(g is None for g in gs):
                from ..backend import xp_of
                ref = next(g for g in gs if g is not None)
                xp = xp_of(ref)
                gs = [xp.zeros(m[0], m[1]) if g is None else g
                      for g, m in zip(gs, node.out_meta)]
            if type(node)._tensor_api:
                in_grads = _tensor_api_backward(node, gs)
            else:
                in_grads = node.backward(*gs)
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        if debug:
            from .debug import after_backward
            after_backward(node, gs, in_grads)
        if not retain_graph:
            node.release()
        for link, g in zip(node.next, in_grads):
            if link is None:
                continue
            target, idx = link
            if g is not None:
                deliver(target, idx, g)
            if isinstance(target, Node):
                left = deps[target] - 1
                deps[target] = left
                if left == 0:
                    ready.append(target)
    return capture
