#!/usr/bin/env Rscript
## edgeR GLM reference outputs (tests/data/edger_glm/). Test: tests/radiogenomics/test_dispersion_glm.py.
##
## Run from anywhere:   Rscript tests/data/edger_glm/make_reference.R [OUTDIR] [--no-deseq2]
## OUTDIR defaults to this folder (overwrites the CSVs); give a scratch folder to compare.
## Made with R 4.2.2, edgeR 3.40.2, limma 3.54.1, locfit 1.5.9.7 (Debian: apt-get install
## r-base-core r-bioc-edger r-bioc-limma; r-bioc-deseq2 for the deseq2_* rows of params.csv and
## the deseq2_size_factor column of samples_normfactors.csv, or pass --no-deseq2).
##
## 1. cervical, all 58 samples, design ~group: ../edger/reference_edger.R; keeps de_glmlrt.csv
##    (estimateDisp + glmFit + glmLRT), params.csv and samples_normfactors.csv (as in ../edger/)
##    and genes_dispersion.csv restricted to feature_id, AveLogCPM, estimateDisp_trended and
##    estimateDisp_tagwise (written without quotes).
## 2. make_covariate_reference.R (this folder): simulated counts with continuous covariates
##    and class x covariate designs -> covariate_*.csv.
args <- commandArgs(trailingOnly = TRUE)
self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
HERE <- dirname(normalizePath(self))
ROOT <- normalizePath(file.path(HERE, "..", "..", ".."))
no_deseq2 <- "--no-deseq2" %in% args
args <- args[args != "--no-deseq2"]
OUT <- normalizePath(if (length(args) >= 1) args[1] else HERE, mustWork = FALSE)
dir.create(OUT, recursive = TRUE, showWarnings = FALSE)

tmp <- tempfile("edger_full_")
st <- system2(file.path(R.home("bin"), "Rscript"),
              c(file.path(HERE, "..", "edger", "reference_edger.R"),
                file.path(ROOT, "data/cervical/counts.csv.gz"),
                file.path(ROOT, "data/cervical/samples.csv"), tmp, "class",
                if (no_deseq2) "--no-deseq2"))
if (st != 0) stop("reference_edger.R failed")
for (f in c("de_glmlrt.csv", "params.csv", "samples_normfactors.csv"))
  file.copy(file.path(tmp, f), file.path(OUT, f), overwrite = TRUE)
g <- read.csv(file.path(tmp, "genes_dispersion.csv"), check.names = FALSE,
              colClasses = c(feature_id = "character"))
write.csv(g[, c("feature_id", "AveLogCPM", "estimateDisp_trended", "estimateDisp_tagwise")],
          file.path(OUT, "genes_dispersion.csv"), row.names = FALSE, quote = FALSE)

old <- setwd(OUT)
source(file.path(HERE, "make_covariate_reference.R"))
setwd(old)
cat("wrote", OUT, "\n")
