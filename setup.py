from setuptools import find_packages, setup

with open("README.md", encoding="utf-8") as f:
    long_description = f.read()

setup(
    name="torch-nri",
    version="0.2.0",
    description="Neural relational inference (NRI, NRI-MPM) as PyTorch Geometric layers",
    long_description=long_description,
    long_description_content_type="text/markdown",
    packages=find_packages(include=["torch_nri", "torch_nri.*"]),
    python_requires=">=3.10",
    # torch is left unpinned here; install the wheel you want first (the
    # Makefile installs the CPU build torch==2.13.0) and pip keeps it.
    install_requires=[
        "torch>=2.1",
        "torch-geometric>=2.5",
        "numpy",
        "scipy",
        "tqdm",
        "matplotlib",
    ],
    extras_require={
        "test": ["pytest>=7"],
        "docs": ["sphinx>=7"],
        "scatter": ["torch-scatter"],
    },
    entry_points={"console_scripts": ["torch-nri=torch_nri.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
