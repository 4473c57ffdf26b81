import json, os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
import django; django.setup()
import importlib
mod = importlib.import_module(f"bench.{sys.argv[1]}")
t = time.time()
md, raw = mod.run()
print(md)
open(f"bench/out/{sys.argv[1]}.json", "w").write(json.dumps(raw, indent=1, default=str))
print("took", time.time() - t)
