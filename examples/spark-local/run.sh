#!/usr/bin/env bash
# Runs examples/spark-local/SparkLocalExample.java in Spark local mode, from the repository root:
#   examples/spark-local/run.sh [cores] [average-weights-every-K]
# Builds graft-spark (no tests) and its class path (Spark included: the build has it as provided), then runs the
# example as a single-file Java program with the --add-opens options Spark 4 needs on Java 17.
set -euo pipefail
cd "$(dirname "$0")/../.."
mvn -B -q -Dai.djl.offline=true -pl spark -am package -DskipTests -Dspotless.check.skip=true
export DJL_OFFLINE=true DJL_CACHE_DIR="${DJL_CACHE_DIR:-$PWD/target/djl-cache}"
OPENS=$(sed -n 's:.*<spark.java.options>\(.*\)</spark.java.options>.*:\1:p' spark/pom.xml)
# shellcheck disable=SC2086
exec java -Xmx4g $OPENS -Dlog4j2.configurationFile=examples/spark-local/log4j2.properties -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1 \
  -cp "spark/target/classes:$(cat spark/target/classpath.txt)" examples/spark-local/SparkLocalExample.java "$@"
