#!/usr/bin/env Rscript
## Reference outputs of the baseline classifiers and voom on the cervical miRNA counts
## (tests/data/baselines/). Tests: tests/radiogenomics/test_nblda.py (NBLDA, PLDA),
## test_nsc.py (pamr), test_voomnsc.py (MLSeq voomNSC), test_voom.py (limma voom),
## test_size_factors.py; helpers in tests/radiogenomics/baseline_helpers.py.
##
## Run from anywhere:   Rscript tests/data/baselines/make_reference.R [OUTDIR]
## OUTDIR defaults to this folder (overwrites the files); give a scratch folder to compare
## (compare the *.csv.gz files by content: zcat, the gzip headers differ).
## Made with R 4.2.2, edgeR 3.40.2, limma 3.54.1, DESeq2 1.38.3, NBLDA 1.0.1,
## PoiClaClu 1.0.2.1, MLSeq 2.25.0, pamr 1.57 (Debian: apt-get install r-base-core
## r-bioc-edger r-bioc-limma r-bioc-deseq2 r-cran-pamr; NBLDA 1.0.1, PoiClaClu 1.0.2.1 from
## CRAN and MLSeq 2.25.0 from Bioconductor 3.16, e.g. remotes::install_version).
##
## What it does:
## 1. the body of shared/reference/scripts/cervical.R, unchanged except that the counts come
##    from the repository's data/cervical/counts.csv.gz (the same numbers as MLSeq's
##    inst/extdata/cervical.txt) and the outputs go to a temporary folder: two stratified
##    70/30 splits (seeds 2128 -> A, 7 -> B); per split and gene set (all714 = all miRNAs,
##    top50 = the 50 smallest edgeR exactTest p-values on the training samples) NBLDA
##    (trainNBLDA defaults and rho = 0 for mle/deseq/tmm), PLDA (Classify, Classify.cv),
##    MLSeq voomNSC internals (TMM, deseq), pamr and limma voom (no norm / TMM);
## 2. keeps what the tests use: split_<S>.csv, split_<S>/top50_genes.csv and, per gene set,
##    log.txt and every CSV (gzipped) except voomNSC_MLSeqclassify_deseq_cv_test.csv;
## 3. voom_E.csv.gz, voom_weights.csv.gz: limma voom with TMM on all 58 samples, design ~group,
##    from ../edger/reference_edger.R (--no-deseq2 is enough for them).
args <- commandArgs(trailingOnly = TRUE)
self <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
HERE <- dirname(normalizePath(self))
ROOT <- normalizePath(file.path(HERE, "..", "..", ".."))
DEST <- normalizePath(if (length(args) >= 1) args[1] else HERE, mustWork = FALSE)
dir.create(DEST, recursive = TRUE, showWarnings = FALSE)

suppressPackageStartupMessages({
  library(edgeR); library(limma); library(NBLDA); library(PoiClaClu)
  library(MLSeq); library(pamr); library(DESeq2)
})
options(warn = 1)
OUT <- tempfile("cervical_splits_")
dir.create(OUT, showWarnings = FALSE, recursive = TRUE)
wcsv <- function(x, f, row.names = FALSE) write.csv(x, file.path(OUT, f), row.names = row.names, quote = TRUE)

raw <- read.csv(file.path(ROOT, "data/cervical/counts.csv.gz"), row.names = 1,
                check.names = FALSE)
counts <- as.matrix(raw)
storage.mode(counts) <- "double"
labels <- factor(rep(c("N", "T"), c(29, 29)), levels = c("N", "T"))
names(labels) <- colnames(counts)
write.csv(data.frame(gene = rownames(counts), counts, check.names = FALSE),
          file.path(OUT, "counts.csv"), row.names = FALSE)
write.csv(data.frame(sample = colnames(counts), label = as.character(labels)),
          file.path(OUT, "labels.csv"), row.names = FALSE)

## Stratified 70/30 split: within each class (29 samples) draw ceiling(0.3*29)=9 test samples
## with sample(), class N first then class T.
make_split <- function(seed) {
  set.seed(seed)
  te <- c(sample(which(labels == "N"), ceiling(0.3 * 29)),
          sample(which(labels == "T"), ceiling(0.3 * 29)))
  te <- sort(te)
  tr <- setdiff(seq_along(labels), te)
  list(train = colnames(counts)[tr], test = colnames(counts)[te])
}

sink_txt <- function(obj, f) { capture.output(print(obj), file = file.path(OUT, f)) }

run_split <- function(name, seed) {
  sp <- make_split(seed)
  sd0 <- file.path(OUT, paste0("split_", name)); dir.create(sd0, showWarnings = FALSE)
  write.csv(rbind(data.frame(sample = sp$train, set = "train", label = as.character(labels[sp$train])),
                  data.frame(sample = sp$test, set = "test", label = as.character(labels[sp$test]))),
            file.path(OUT, paste0("split_", name, ".csv")), row.names = FALSE)
  ytr <- labels[sp$train]; yte <- labels[sp$test]
  Xtr_all <- counts[, sp$train]; Xte_all <- counts[, sp$test]

  ## edgeR exact test on train only (classic pipeline)
  dge <- DGEList(counts = Xtr_all, group = ytr)
  dge <- calcNormFactors(dge, method = "TMM")
  dge <- estimateCommonDisp(dge)
  dge <- estimateTagwiseDisp(dge)
  et <- exactTest(dge, pair = c("N", "T"))
  tt <- topTags(et, n = Inf, sort.by = "PValue")$table
  write.csv(data.frame(gene = rownames(tt), tt, check.names = FALSE),
            file.path(sd0, "edgeR_exacttest_train_all.csv"), row.names = FALSE)
  write.csv(data.frame(gene = rownames(dge$samples), dge$samples),
            file.path(sd0, "edgeR_train_samples_normfactors.csv"), row.names = FALSE)
  write.csv(data.frame(common.dispersion = dge$common.dispersion), file.path(sd0, "edgeR_train_common_disp.csv"), row.names = FALSE)
  top50 <- rownames(topTags(et, n = 50)$table)
  write.csv(data.frame(rank = 1:50, gene = top50), file.path(sd0, "top50_genes.csv"), row.names = FALSE)

  for (fs in c("all714", "top50")) {
    genes <- if (fs == "all714") rownames(counts) else top50
    d <- file.path(sd0, fs); dir.create(d, showWarnings = FALSE)
    Xtr <- Xtr_all[genes, , drop = FALSE]; Xte <- Xte_all[genes, , drop = FALSE]
    log <- character()

    ## ---------------- a. NBLDA ----------------
    # (i) package defaults: type="mle", tuneLength=10, metric="accuracy", nbldaControl() (5-fold x 2 repeats CV of rho)
    set.seed(1)
    fitN <- trainNBLDA(x = t(Xtr), y = ytr, train.control = nbldaControl())
    pN <- predict(fitN, t(Xte), return = "everything")
    disc <- pN$discriminant; colnames(disc) <- levels(ytr)
    pr <- exp(disc - apply(disc, 1, max)); pr <- pr / rowSums(pr)
    write.csv(data.frame(sample = sp$test, true = as.character(yte), pred = as.character(pN$ytehat),
                         disc_N = disc[, 1], disc_T = disc[, 2], prob_N = pr[, 1], prob_T = pr[, 2]),
              file.path(d, "nblda_default_cvrho_test.csv"), row.names = FALSE)
    write.csv(fitN@result@crossValidated$tuning.results, file.path(d, "nblda_default_cvrho_tuning.csv"), row.names = FALSE)
    log <- c(log, sprintf("NBLDA default: best.rho=%.10g type=%s", fitN@result@crossValidated$best.rho, fitN@result@finalModel$type))
    # (ii) fixed rho = 0, otherwise package defaults (type="mle")
    for (ty in c("mle", "deseq", "tmm")) {
      fit0 <- tryCatch(trainNBLDA(x = t(Xtr), y = ytr, type = ty, train.control = nbldaControl(rhos = 0)),
                       error = function(e) { log <<- c(log, paste("NBLDA rho0", ty, "ERROR:", conditionMessage(e))); NULL })
      if (is.null(fit0)) next
      p0 <- predict(fit0, t(Xte), return = "everything")
      disc <- p0$discriminant; colnames(disc) <- levels(ytr)
      pr <- exp(disc - apply(disc, 1, max)); pr <- pr / rowSums(pr)
      write.csv(data.frame(sample = sp$test, true = as.character(yte), pred = as.character(p0$ytehat),
                           disc_N = disc[, 1], disc_T = disc[, 2], prob_N = pr[, 1], prob_T = pr[, 2]),
                file.path(d, sprintf("nblda_rho0_%s_test.csv", ty)), row.names = FALSE)
      fm <- fit0@result@finalModel
      write.csv(data.frame(gene = genes, dispersion_adj = fm$dispersions$adj, dispersion_initial = fm$dispersions$initial,
                           d_N = fm$ds[1, ], d_T = fm$ds[2, ]),
                file.path(d, sprintf("nblda_rho0_%s_params.csv", ty)), row.names = FALSE)
      write.csv(data.frame(sample = sp$test, nste_rowsum = rowSums(p0$nste)),
                file.path(d, sprintf("nblda_rho0_%s_test_sizes.csv", ty)), row.names = FALSE)
    }

    ## ---------------- b. PLDA (PoiClaClu) ----------------
    # (i) Classify defaults: type="mle", transform=TRUE (alpha=FindBestTransform(train)), rho=0
    cl0 <- Classify(x = t(Xtr), y = ytr, xte = t(Xte), rho = 0)
    disc <- cl0$discriminant; colnames(disc) <- levels(ytr)
    write.csv(data.frame(sample = sp$test, true = as.character(yte), pred = as.character(cl0$ytehat),
                         disc_N = disc[, 1], disc_T = disc[, 2]),
              file.path(d, "plda_rho0_transform_test.csv"), row.names = FALSE)
    write.csv(data.frame(gene = genes, d_N = cl0$ds[1, ], d_T = cl0$ds[2, ]), file.path(d, "plda_rho0_transform_ds.csv"), row.names = FALSE)
    log <- c(log, sprintf("PLDA alpha (FindBestTransform on train) = %.12g", cl0$alpha))
    # (ii) no power transform, rho = 0
    cl1 <- Classify(x = t(Xtr), y = ytr, xte = t(Xte), rho = 0, transform = FALSE)
    disc <- cl1$discriminant; colnames(disc) <- levels(ytr)
    write.csv(data.frame(sample = sp$test, true = as.character(yte), pred = as.character(cl1$ytehat),
                         disc_N = disc[, 1], disc_T = disc[, 2]),
              file.path(d, "plda_rho0_notransform_test.csv"), row.names = FALSE)
    write.csv(data.frame(gene = genes, d_N = cl1$ds[1, ], d_T = cl1$ds[2, ]), file.path(d, "plda_rho0_notransform_ds.csv"), row.names = FALSE)
    # (iii) rho chosen by Classify.cv (defaults: 5 folds, 30 rhos, transform=TRUE), set.seed(1)
    set.seed(1)
    cv <- Classify.cv(x = t(Xtr), y = ytr)
    clcv <- Classify(x = t(Xtr), y = ytr, xte = t(Xte), rho = cv$bestrho)
    disc <- clcv$discriminant; colnames(disc) <- levels(ytr)
    write.csv(data.frame(sample = sp$test, true = as.character(yte), pred = as.character(clcv$ytehat),
                         disc_N = disc[, 1], disc_T = disc[, 2]),
              file.path(d, "plda_cvrho_transform_test.csv"), row.names = FALSE)
    write.csv(data.frame(rho = cv$rhos, mean_errs = colMeans(cv$errs), mean_nonzero = colMeans(cv$nnonzero)),
              file.path(d, "plda_cv_table.csv"), row.names = FALSE)
    log <- c(log, sprintf("PLDA Classify.cv bestrho = %.12g", cv$bestrho))

    ## ---------------- c. voomNSC (MLSeq internals) ----------------
    for (nm in c("TMM", "deseq")) {
      for (thr in c(1.0)) {
        fitV <- MLSeq:::voomNSC.train(counts = Xtr, conditions = ytr, thresholds = thr, normalization = nm)
        vm <- MLSeq:::voomGSD(data.train = fitV$counts, data.test = Xte, group = fitV$conditions, norm.method = fitV$normalization)
        x <- vm$TestExp
        delta.shrunk <- MLSeq:::soft.shrink(fitV$delta, thr)
        delta.shrunk <- t(t(delta.shrunk) * as.numeric(fitV$se.scale))
        posid <- drop(abs(delta.shrunk) %*% rep(1, length(fitV$prior))) > 0
        dd <- MLSeq:::diag.disc((x - fitV$weightedMean) / fitV$weightedSD.pooled, delta.shrunk, fitV$prior, posid)
        pred <- MLSeq:::predict.voomNSC(fitV, Xte, threshold = thr)
        ee <- exp(dd - apply(dd, 1, max)); pp <- ee / rowSums(ee)
        write.csv(data.frame(sample = sp$test, true = as.character(yte), pred = as.character(pred),
                             disc_N = dd[, 1], disc_T = dd[, 2], prob_N = pp[, 1], prob_T = pp[, 2]),
                  file.path(d, sprintf("voomNSC_%s_thr%.1f_test.csv", nm, thr)), row.names = FALSE)
        write.csv(data.frame(gene = genes, weightedMean = as.numeric(fitV$weightedMean),
                             centroid_N = fitV$weightedMean.C[, 1], centroid_T = fitV$weightedMean.C[, 2],
                             sd_plus_offset = as.numeric(fitV$weightedSD.pooled),
                             delta_N = fitV$delta[, 1], delta_T = fitV$delta[, 2],
                             delta_shrunk_N = delta.shrunk[, 1], delta_shrunk_T = delta.shrunk[, 2],
                             se_scale_N = fitV$se.scale[, 1], se_scale_T = fitV$se.scale[, 2]),
                  file.path(d, sprintf("voomNSC_%s_thr%.1f_model.csv", nm, thr)), row.names = FALSE)
        write.csv(data.frame(gene = genes, x), file.path(d, sprintf("voomNSC_%s_testExpr.csv", nm)), row.names = FALSE)
        log <- c(log, sprintf("voomNSC %s thr=%.1f offset=%.10g nonzero=%d", nm, thr, fitV$offset, sum(posid)))
      }
      ## also: default threshold grid (n.threshold=30) trained on train, opt.threshold = max-accuracy on training data
      fitG <- MLSeq:::voomNSC.train(counts = Xtr, conditions = ytr, normalization = nm)
      write.csv(fitG$modelRes, file.path(d, sprintf("voomNSC_%s_grid_train.csv", nm)), row.names = FALSE)
      predG <- MLSeq:::predict.voomNSC(fitG, Xte)
      write.csv(data.frame(sample = sp$test, true = as.character(yte), pred = as.character(predG)),
                file.path(d, sprintf("voomNSC_%s_optthr_test.csv", nm)), row.names = FALSE)
      log <- c(log, sprintf("voomNSC %s grid opt.threshold (train resubstitution) = %.10g", nm, fitG$opt.threshold))
    }
    ## MLSeq::classify route (CV-chosen threshold, normalize='deseq' default, voomControl(number=5, repeats=2, tuneLength=10)), set.seed(2128)
    res <- tryCatch({
      cdTr <- DataFrame(condition = ytr); cdTe <- DataFrame(condition = yte)
      dsTr <- DESeqDataSetFromMatrix(countData = round(Xtr), colData = cdTr, design = ~condition)
      dsTe <- DESeqDataSetFromMatrix(countData = round(Xte), colData = cdTe, design = ~condition)
      set.seed(2128)
      m <- classify(data = dsTr, method = "voomNSC", normalize = "deseq", class.labels = "condition", ref = "T",
                    control = voomControl(number = 5, repeats = 2, tuneLength = 10))
      p <- predict(m, dsTe)
      write.csv(data.frame(sample = sp$test, true = as.character(yte), pred = as.character(p)),
                file.path(d, "voomNSC_MLSeqclassify_deseq_cv_test.csv"), row.names = FALSE)
      sprintf("MLSeq classify voomNSC deseq: opt.threshold=%.10g", trained(m)@tuningResults$opt.threshold)
    }, error = function(e) paste("MLSeq classify voomNSC ERROR:", conditionMessage(e)))
    log <- c(log, res)

    ## ---------------- d. pamr ----------------
    dat <- list(x = log2(Xtr + 1), y = ytr, geneid = genes, genenames = genes)
    pf <- pamr.train(dat)
    set.seed(1)
    pcv <- pamr.cv(pf, dat)
    best.thr <- max(pcv$threshold[pcv$error == min(pcv$error)])
    write.csv(data.frame(threshold = pcv$threshold, error = pcv$error, size = pcv$size),
              file.path(d, "pamr_cv_table.csv"), row.names = FALSE)
    write.csv(data.frame(threshold = pf$threshold, nonzero = pf$nonzero, train_errors = pf$errors),
              file.path(d, "pamr_train_table.csv"), row.names = FALSE)
    newx <- log2(Xte + 1)
    for (th in list(c("1.0", 1.0), c("cvbest", best.thr))) {
      thv <- as.numeric(th[2])
      cls <- pamr.predict(pf, newx, threshold = thv, type = "class")
      post <- pamr.predict(pf, newx, threshold = thv, type = "posterior")
      write.csv(data.frame(sample = sp$test, true = as.character(yte), pred = as.character(cls),
                           post_N = post[, 1], post_T = post[, 2], threshold = thv),
                file.path(d, sprintf("pamr_thr_%s_test.csv", th[1])), row.names = FALSE)
    }
    cen <- pamr.predict(pf, newx, threshold = 1.0, type = "centroid")
    write.csv(data.frame(gene = genes, shrunken_N = cen[, 1], shrunken_T = cen[, 2],
                         centroid_N = pf$centroids[, 1], centroid_T = pf$centroids[, 2],
                         centroid_overall = pf$centroid.overall, sd = pf$sd),
              file.path(d, "pamr_centroids_thr1.0.csv"), row.names = FALSE)
    log <- c(log, sprintf("pamr cv best threshold = %.10g ; s0 (offset) = %.10g ; se.scale = %s ; threshold.scale = %s",
                          best.thr, pf$offset, paste(signif(pf$se.scale, 10), collapse = ","),
                          paste(pf$threshold.scale, collapse = ",")))

    ## ---------------- e. limma voom ----------------
    design <- model.matrix(~ ytr)
    v1 <- voom(Xtr, design)  # lib.size = colSums, no norm factors
    write.csv(data.frame(gene = genes, v1$E, check.names = FALSE), file.path(d, "voom_nonorm_E.csv"), row.names = FALSE)
    write.csv(data.frame(gene = genes, v1$weights, check.names = FALSE) |> setNames(c("gene", colnames(Xtr))),
              file.path(d, "voom_nonorm_weights.csv"), row.names = FALSE)
    dg <- calcNormFactors(DGEList(Xtr), method = "TMM")
    v2 <- voom(dg, design)
    write.csv(data.frame(gene = genes, v2$E, check.names = FALSE), file.path(d, "voom_TMM_E.csv"), row.names = FALSE)
    write.csv(data.frame(gene = genes, v2$weights, check.names = FALSE) |> setNames(c("gene", colnames(Xtr))),
              file.path(d, "voom_TMM_weights.csv"), row.names = FALSE)
    write.csv(data.frame(sample = colnames(Xtr), lib.size = dg$samples$lib.size, norm.factors = dg$samples$norm.factors),
              file.path(d, "voom_TMM_libsizes.csv"), row.names = FALSE)

    writeLines(log, file.path(d, "log.txt"))
    cat(name, fs, "\n", paste(log, collapse = "\n"), "\n")
  }
}

run_split("A", 2128)
run_split("B", 7)
writeLines(capture.output(sessionInfo()), file.path(OUT, "sessionInfo.txt"))

## ---- 2. keep what the tests use ---------------------------------------------------------
gz_copy <- function(src, dst) {
  con <- gzfile(dst, "w"); writeLines(readLines(src), con); close(con)
}
for (s in c("A", "B")) {
  file.copy(file.path(OUT, sprintf("split_%s.csv", s)), DEST, overwrite = TRUE)
  sdir <- file.path(DEST, paste0("split_", s)); dir.create(sdir, showWarnings = FALSE)
  file.copy(file.path(OUT, paste0("split_", s), "top50_genes.csv"), sdir, overwrite = TRUE)
  for (fs in c("all714", "top50")) {
    src <- file.path(OUT, paste0("split_", s), fs)
    dst <- file.path(sdir, fs); dir.create(dst, showWarnings = FALSE)
    file.copy(file.path(src, "log.txt"), dst, overwrite = TRUE)
    for (f in setdiff(list.files(src, pattern = "[.]csv$"), "voomNSC_MLSeqclassify_deseq_cv_test.csv"))
      gz_copy(file.path(src, f), file.path(dst, paste0(f, ".gz")))
  }
}

## ---- 3. voom on all samples (reference_edger.R) -------------------------------------------
tmp <- tempfile("edger_full_")
st <- system2(file.path(R.home("bin"), "Rscript"),
              c(file.path(HERE, "..", "edger", "reference_edger.R"),
                file.path(ROOT, "data/cervical/counts.csv.gz"),
                file.path(ROOT, "data/cervical/samples.csv"), tmp, "class", "--no-deseq2"))
if (st != 0) stop("reference_edger.R failed")
for (f in c("voom_E.csv.gz", "voom_weights.csv.gz"))
  file.copy(file.path(tmp, f), file.path(DEST, f), overwrite = TRUE)
cat("wrote", DEST, "\n")
