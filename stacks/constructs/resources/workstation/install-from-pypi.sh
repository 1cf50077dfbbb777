pip3 install --no-cache-dir --retries 10 'pyspark==@PYSPARK_VERSION@' '@NUMPY_REQUIREMENT@'
