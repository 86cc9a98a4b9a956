# The sandbox function's image: AWS's Python 3.12 Lambda base, the scientific stack the design
# preinstalls (a candidate can import what the image holds; nothing is ever installed at run
# time: the function has no network), pytest, and PVE's sandbox package (the handler and the
# harness, standard library and pydantic only). Built and pushed by .github/workflows/deploy.yml;
# this machine has no Docker, so it is checked by reading, not built, in this repository's tests.
FROM public.ecr.aws/lambda/python:3.12

# Pinned: every verdict's proof names the sandbox, and the image is part of what it ran.
RUN pip install --no-cache-dir \
      "pytest==8.4.2" "pydantic==2.12.5" \
      "numpy==2.3.5" "pandas==2.3.3" "scipy==1.16.3" "scikit-learn==1.7.2"

COPY pve/ ${LAMBDA_TASK_ROOT}/pve/
COPY sandbox/ ${LAMBDA_TASK_ROOT}/sandbox/
COPY entrypoints/__init__.py entrypoints/aws_lambda_sandbox.py ${LAMBDA_TASK_ROOT}/entrypoints/

# No secrets or AWS settings in the image; the function's role may write its own logs only.
CMD ["entrypoints.aws_lambda_sandbox.handler"]
