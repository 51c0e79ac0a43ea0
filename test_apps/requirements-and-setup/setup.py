from setuptools import setup

setup(
    name="modelkiln-test-both",
    version="0.2.0",
    description="modelkiln test app: dependencies in both requirements.txt and setup.py",
    py_modules=["BothModel"],
    install_requires=["tabulate==0.8.10"],
)
