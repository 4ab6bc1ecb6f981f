# A Git LFS pointer where the weights should be (a clone without git-lfs) is named as such.
printf 'version https://git-lfs.github.com/spec/v1\noid sha256:407a7c581bdd66970d6a2e5ed7b6f0e4b5e3c3e0cdb2c0d6d4d1b8e4f7c2a1b3\nsize 1044992\n' > model.safetensors
qverify model.safetensors
echo "exit $?"
