#!/usr/bin/env Rscript
# edgeR reference for designs with continuous covariates (tests/radiogenomics/test_dispersion_glm.py).
#
# Usage (from this directory):  Rscript make_covariate_reference.R
# Made with R 4.2.2, edgeR 3.40.2 (Debian: apt-get install r-base-core r-bioc-edger).
#
# Simulates NB counts (fixed seed) for 24 samples in two classes with two continuous
# covariates x1, x2, then runs estimateDisp + glmFit + glmLRT on
#   "cov":   design ~ class + x1            (no oneway layout: Levenberg fits), LRT of x1;
#   "joint": design = class intercepts + x1 + x2 + class-B-by-x1 + class-B-by-x2
#            (class x covariate interactions, as the joint gene selection), LRT against the
#            covariate-only design ~ x1 + x2.
# Writes covariate_counts.csv (genes x samples), covariate_samples.csv (class, x1, x2, lib
# size, TMM factor) and, per design D, covariate_<D>_genes.csv (AveLogCPM, trended, tagwise,
# LR, PValue) and covariate_<D>_params.csv (common dispersion, prior df, span).
suppressPackageStartupMessages(library(edgeR))
set.seed(20261206)
n <- 24; G <- 400
cls <- factor(rep(c("A", "B"), each = n / 2))
x1 <- round(rnorm(n), 4); x2 <- round(runif(n, -1, 1), 4)
base <- exp(rnorm(G, log(60), 1.8))
phi <- 0.05 + 0.5 / sqrt(base + 1)
b_cls <- ifelse(runif(G) < 0.2, rnorm(G, 0, 1), 0)
b_x1 <- ifelse(runif(G) < 0.3, rnorm(G, 0, 0.5), 0)
b_int <- ifelse(runif(G) < 0.2, rnorm(G, 0, 0.5), 0)
lib <- runif(n, 0.6, 1.4)
B <- as.numeric(cls == "B")
mu <- outer(base, lib) * exp(outer(b_cls, B) + outer(b_x1, x1) + outer(b_int, B * x2))
counts <- matrix(rnbinom(G * n, size = 1 / phi, mu = mu), G, n)
counts[1:5, ] <- 0                         # silent genes
counts[6:10, cls == "A"] <- 0              # silent in class A
counts[11, 1:3] <- 0
rownames(counts) <- sprintf("g%03d", seq_len(G)); colnames(counts) <- sprintf("s%02d", seq_len(n))

y <- calcNormFactors(DGEList(counts))
write.csv(data.frame(gene = rownames(counts), counts, check.names = FALSE),
          "covariate_counts.csv", row.names = FALSE)
write.csv(data.frame(sample_id = colnames(counts), class = cls, x1 = x1, x2 = x2,
                     lib_size = y$samples$lib.size, tmm_norm_factor = y$samples$norm.factors),
          "covariate_samples.csv", row.names = FALSE)

run <- function(name, design, design0) {
  yd <- estimateDisp(y, design)
  fit0 <- glmFit(yd$counts, design0, offset = getOffset(yd), dispersion = yd$tagwise.dispersion,
                 prior.count = 0)
  fit1 <- glmFit(yd$counts, design, offset = getOffset(yd), dispersion = yd$tagwise.dispersion,
                 prior.count = 0)
  LR <- fit0$deviance - fit1$deviance
  df <- ncol(design) - ncol(design0)
  write.csv(data.frame(gene = rownames(counts), AveLogCPM = yd$AveLogCPM,
                       trended = yd$trended.dispersion, tagwise = yd$tagwise.dispersion,
                       deviance_full = fit1$deviance, deviance_reduced = fit0$deviance,
                       LR = LR, PValue = pchisq(LR, df, lower.tail = FALSE)),
            sprintf("covariate_%s_genes.csv", name), row.names = FALSE)
  write.csv(data.frame(name = c("common", "prior_df", "span", "df"),
                       value = c(yd$common.dispersion, yd$prior.df, yd$span, df)),
            sprintf("covariate_%s_params.csv", name), row.names = FALSE)
}
run("cov", model.matrix(~ cls + x1), model.matrix(~ cls))
joint <- cbind(A = 1 - B, B = B, x1 = x1, x2 = x2, Bx1 = B * x1, Bx2 = B * x2)
run("joint", joint, model.matrix(~ x1 + x2))
