#!/bin/sh
# Runs inside the sandbox host: a venv with the wheel + pyperf + armjit's hook, then the workloads.
set -eu
W=/root/minework
cd $W
python3.14 -m venv venv
venv/bin/python -m pip install -q $W/wheels/*.whl pyperf >pip.log 2>&1 || { tail -5 pip.log; exit 1; }
SITE=$(venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cp armjit_jit_hook.py armjit_jit_hook.pth "$SITE/"
venv/bin/python -c 'import cinderx, importlib.metadata as m; print("cinderx", m.version("cinderx"), cinderx.__file__)'
printf '__main__:*\n' > jitlist.txt
run() {  # mode bench env...
    mode=$1; bench=$2; shift 2
    mkdir -p logs/$mode out
    ls logs/$mode >before.txt
    names="PYTHONJITDEBUG,PYTHONJITLOGFILE"
    for kv in "$@"; do names="$names,${kv%%=*}"; done
    env "$@" PYTHONJITDEBUG=1 "PYTHONJITLOGFILE=$W/logs/$mode/jit_{pid}.log" \
        venv/bin/python bench_$bench.py -p 3 -n 2 -w 1 --inherit-environ="$names" --append out/$mode.json \
        >>out/$mode.console 2>&1 || echo "exit $? ($mode $bench)" >>out/$mode.console
    ls logs/$mode | grep -vxF -f before.txt | sed "s|^|$mode $bench |" >>out/membership.txt || true
}
for bench in nbody richards; do
    run jitlist $bench PYTHONJITLISTFILE=$W/jitlist.txt PYTHONJITENABLEJITLISTWILDCARDS=1 \
        CINDERX_JIT_MAX_LIR_INSTRS=400 CINDERX_JIT_DEBUG_INLINER=1
    run autojit $bench PYTHONJITAUTO=50 PYTHONJITCOMPILENCALLS=50
done
mkdir -p logs/crash
env PYTHONJITDEBUG=1 PYTHONJITAUTO=50 PYTHONJITCOMPILENCALLS=50 CINDERX_JIT_BACKGROUND_COMPILE=1 "PYTHONJITLOGFILE=$W/logs/crash/jit_{pid}.log" \
    venv/bin/python crash_compile.py >out/crash.console 2>&1 || echo "exit code $?" >>out/crash.console
ls -la logs/* out
