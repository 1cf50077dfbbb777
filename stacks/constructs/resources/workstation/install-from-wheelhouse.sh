aws s3 cp --region @REGION@ @WHEELHOUSE_URI@ @HOME@/wheelhouse.zip
rm -rf @HOME@/wheelhouse && python3 -m zipfile -e @HOME@/wheelhouse.zip @HOME@/wheelhouse
pip3 install --no-index --find-links @HOME@/wheelhouse -r @HOME@/wheelhouse/@WHEELHOUSE_REQUIREMENTS@
