from setuptools import setup

setup(
    name="modelkiln-test-three-sources",
    version="0.3.0",
    description="modelkiln test app: dependencies in environment.yml, requirements.txt and setup.py",
    py_modules=["ThreeSourcesModel"],
    install_requires=["tabulate==0.8.10"],
)
