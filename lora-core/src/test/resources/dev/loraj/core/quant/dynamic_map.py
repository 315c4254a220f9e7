# Regenerates dynamic_map_torch2.13.txt: bitsandbytes' signed dynamic 8-bit map
# (create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)), re-stated from its
# definition and evaluated with torch float32 tensors as bitsandbytes does.
# Run: python3 dynamic_map.py > dynamic_map_torch2.13.txt   (torch 2.13.0+cpu)
import torch

data = []
for i in range(7):                      # decades 1e-6 .. 1e0
    b = torch.linspace(0.1, 1, 2 ** i + 1)
    m = (b[:-1] + b[1:]) / 2.0          # 2^i midpoints per decade
    data += ((10 ** (-6 + i)) * m).tolist()
    data += (-(10 ** (-6 + i)) * m).tolist()
data += [0, 1.0]
data.sort()
print("# torch " + torch.__version__ + ", 256 float32 levels in code order")
for v in torch.Tensor(data).tolist():
    print(repr(v))
