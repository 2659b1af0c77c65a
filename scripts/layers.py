#!/usr/bin/env python3
"""scripts/layers.py [DIR]: the layers of the C files, read from the built objects in DIR
(default src): file A calls file B when A uses a symbol that B defines. Prints each
file's layer (0: calls no other oms file) and its callees; exits 1 on a cycle,
naming it. test/run-suites runs it as the "layers" check after the build."""
import subprocess, sys, glob, os
src = sys.argv[1] if len(sys.argv) > 1 else 'src'
objs = sorted(glob.glob(os.path.join(src, '*.o')))
defs, undefs = {}, {}
for o in objs:
    name = os.path.basename(o)[:-2] + '.c'
    out = subprocess.run(['nm', o], capture_output=True, text=True, check=True).stdout
    d, u = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in 'TDBR':
            d.add(parts[2])
        elif len(parts) == 2 and parts[0] == 'U':
            u.add(parts[1])
    defs[name], undefs[name] = d, u
owner = {s: f for f, ds in defs.items() for s in ds}
edges = {f: sorted({owner[s] for s in undefs[f] if s in owner and owner[s] != f}) for f in defs}
layer, state = {}, {}
def visit(f, path):
    if state.get(f) == 1:
        print('cycle: ' + ' -> '.join(path[path.index(f):] + [f])); sys.exit(1)
    if state.get(f) == 2: return layer[f]
    state[f] = 1
    layer[f] = 1 + max([visit(g, path + [f]) for g in edges[f]] or [-1])
    state[f] = 2
    return layer[f]
for f in defs: visit(f, [])
for l in range(max(layer.values()) + 1):
    fs = sorted(f for f in layer if layer[f] == l)
    print(f'layer {l}: ' + ', '.join(fs))
for f in sorted(edges): print(f'  {f} -> {", ".join(edges[f]) or "-"}')
