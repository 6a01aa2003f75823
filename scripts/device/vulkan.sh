# Sourced by the device scripts: the Vulkan loader from .gl/*.deb, NVIDIA's ICD, the GPU's
# name into $OUT/gpu.txt, and `unpack NAME` (.gpu/xz/NAME.xz → executable .gpu/bin/NAME;
# binaries travel xz-compressed because a device call carries at most 64 MiB).
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
mkdir -p "$OUT" .gpu/bin
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
unpack() {
  if [ ! -x ".gpu/bin/$1" ] && [ -f ".gpu/xz/$1.xz" ]; then
    python3 -c "import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2],'wb'))" \
      ".gpu/xz/$1.xz" ".gpu/bin/$1" && chmod +x ".gpu/bin/$1"
  fi
}
