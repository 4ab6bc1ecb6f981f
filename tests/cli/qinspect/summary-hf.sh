# A Hugging Face directory: config.json gives the architecture; BF16 weights, 1-D norms too.
cd "$FIX" && qinspect tiny256-hf stories260K-hf
