from setuptools import find_packages, setup

setup(
    name="modelkiln-test-greeter",
    version="1.4.2",
    description="modelkiln test app: a model packaged with setup.py",
    package_dir={"": "src"},
    packages=find_packages("src"),
    install_requires=["six==1.16.0"],
)
