#!/usr/bin/env python3
"""fuzz/semfuzz_runfile.py: overwrite each float dataset of a valid run file with NaN, Inf, -1e300 and 0
in turn and run summary/compare/audit/plot on it (a sanitizer build): every command must exit 0, 1 or 2
(2 with one stderr line) and no sanitizer report may appear. Needs Debian python3-h5py."""
import h5py, numpy as np, subprocess, shutil, os, sys
# usage: /usr/bin/python3 fuzz/semfuzz_runfile.py SINKSCOPE RUN.h5 (run in a scratch directory)
src=sys.argv[2]
names=[]
with h5py.File(src,'r') as f:
    f.visititems(lambda n,o: names.append(n) if isinstance(o,h5py.Dataset) and o.dtype.kind=='f' else None)
print(len(names),'float datasets', flush=True)
B=sys.argv[1]
bad=[]
for n in names:
    for val in [np.nan, np.inf, -1e300, 0.0]:
        shutil.copy(src,'m.h5')
        with h5py.File('m.h5','r+') as f:
            d=f[n]; d[...]=np.full(d.shape, val, dtype=d.dtype)
        for cmd in (['summary','m.h5','--per-head','--format','json'],['summary','m.h5','--per-head','--format','latex'],['compare',src,'m.h5'],['audit','m.h5','--max-first-token-share','0.5','--max-activation','10'],['plot','first-token','m.h5','-o','p.png'],['plot','gate-hist','m.h5','-o','p.png'],['plot','attention-map','m.h5','-o','p.png'],['plot','activations','m.h5','-o','p.png'],['plot','gate-layers','m.h5','-o','p.png']):
            if os.path.exists('p.png'): os.remove('p.png')
            try:
                r=subprocess.run([B]+cmd,capture_output=True,text=True,timeout=120)
            except subprocess.TimeoutExpired:
                bad.append((n,val,cmd[0:2],'TIMEOUT','')); continue
            errl=r.stderr.strip().splitlines()
            if r.returncode not in (0,1,2) or 'Sanitizer' in r.stderr or 'runtime error' in r.stderr or (r.returncode==2 and len(errl)!=1):
                bad.append((n,val,cmd[0:2],r.returncode,r.stderr[-400:]))
                print(bad[-1], flush=True)
print(len(bad),'problems')
